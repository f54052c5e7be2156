"""What an adversarial algorithm plugs into the shared loop, and the maths all three share.

GAIL, AIRL and guided cost learning differ only in their `Discriminator` (what a logit is,
what the learner is paid) and their `Loss`; both see transitions as `DiscriminatorBatch`es.
`gradient_penalty` is the optional regulariser any of them can add (`grad_penalty`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import nn

from protege.nets import TensorObs
from protege.rewards import RewardNet


class DiscriminatorBatch(NamedTuple):
    """Transitions as a discriminator scores them: tensors in the env's own encoding (as
    `RewardNet.to_tensors` gives them), plus the learner's log π(a|s) (zero where unused).

    dones: (B,) float, 1.0 where next_obs is terminal (not for time-limit truncations).
    """

    obs: TensorObs
    acts: torch.Tensor
    next_obs: TensorObs
    dones: torch.Tensor
    log_pi: torch.Tensor


class Discriminator(nn.Module):
    """What an algorithm plugs into the loop.

    reward: the learned reward that is saved (`protege.rewards.save_reward`).
    logits(b): the classifier's log D/(1-D), D = P(expert | transition); (B,).
    policy_reward(b): what the learner is paid for b; (B,).
    needs_log_pi: whether logits/policy_reward read `b.log_pi` (else it is left zero).
    """

    needs_log_pi = False
    reward: RewardNet

    def logits(self, b: DiscriminatorBatch) -> torch.Tensor:
        raise NotImplementedError

    def policy_reward(self, b: DiscriminatorBatch) -> torch.Tensor:
        raise NotImplementedError


Loss = Callable[[Discriminator, DiscriminatorBatch, DiscriminatorBatch], torch.Tensor]
"""(discriminator, expert batch, learner batch) -> the scalar the discriminator minimises."""


def gradient_penalty(
    disc: Discriminator, expert: DiscriminatorBatch, learner: DiscriminatorBatch
) -> torch.Tensor:
    """E[(‖∇ logits(x̂)‖ - 1)²] at x̂ = εx_E + (1-ε)x_L (Gulrajani et al. 2017).

    Float inputs (Box observations and actions) are interpolated; integer ones (Discrete
    actions, images) are taken from the expert and carry no gradient.
    """
    n = min(len(expert.acts), len(learner.acts))
    eps = torch.rand(n, device=expert.acts.device)
    inputs: list[torch.Tensor] = []

    def mix(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if not a.is_floating_point():
            return a[:n]
        e = eps.reshape(-1, *([1] * (a.dim() - 1)))
        x = (e * a[:n] + (1 - e) * b[:n]).detach().requires_grad_(True)
        inputs.append(x)
        return x

    def mix_obs(a: TensorObs, b: TensorObs) -> TensorObs:
        if isinstance(a, dict):
            return {k: mix(a[k], b[k]) for k in a}  # type: ignore[index]
        return mix(a, b)  # type: ignore[arg-type]

    x_hat = DiscriminatorBatch(
        mix_obs(expert.obs, learner.obs),
        mix(expert.acts, learner.acts),
        mix_obs(expert.next_obs, learner.next_obs),
        expert.dones[:n],
        (eps * expert.log_pi[:n] + (1 - eps) * learner.log_pi[:n]).detach(),
    )
    if not inputs:
        return torch.zeros((), device=expert.acts.device)
    grads = torch.autograd.grad(
        disc.logits(x_hat).sum(), inputs, create_graph=True, allow_unused=True
    )  # unused: inputs the reward does not read (s' for most)
    used = [g.reshape(n, -1) for g in grads if g is not None]
    if not used:
        return torch.zeros((), device=expert.acts.device)
    norm = torch.cat(used, dim=1).norm(dim=1)
    return ((norm - 1) ** 2).mean()
