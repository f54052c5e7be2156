"""The discriminator's side of the adversarial loop: data, optimiser, pay, updates.

`Adversary` holds the expert's transitions, a window of the learner's latest ones (the
shared `ReplayBuffer`), the discriminator's Adam optimiser and the running reward scale.
It pays the learner as it steps (`env_reward`, the reward function of the learner's envs),
re-pays an off-policy learner's replayed minibatches with the current discriminator
(`relabel`, Kostrikov et al. 2019, DAC) and trains the discriminator for one round
(`train_round`). Minibatches of both sides are drawn from one NumPy generator, expert
first, so a seed always gives the same rounds.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch

from protege.algorithms.adversarial.config import AdversarialConfig
from protege.algorithms.adversarial.discriminator import (
    Discriminator,
    DiscriminatorBatch,
    Loss,
    gradient_penalty,
)
from protege.algorithms.adversarial.scale import RunningScale
from protege.algorithms.replay import ReplayBuffer, TensorTransitions
from protege.data.types import Obs, Transitions
from protege.nets import TensorObs
from protege.rl import learner_log_prob


class Adversary:
    """The discriminator's side: data, optimiser, the learner's reward, one round of updates.

    The learner and the window of its transitions come later (`attach`): the learner is
    built on envs that already call `env_reward`.
    """

    def __init__(
        self, disc: Discriminator, loss: Loss, demos: Transitions, cfg: AdversarialConfig
    ) -> None:
        self.disc, self.loss, self.cfg = disc, loss, cfg
        self.device = disc.reward.device
        self.spaces = disc.reward.spaces
        self.expert = TensorTransitions(
            *disc.reward.to_tensors(demos.obs, demos.acts, demos.next_obs, demos.terminated)
        )
        self.opt = torch.optim.Adam(disc.parameters(), lr=cfg.disc_lr)
        self.scale = RunningScale()
        self.rng = np.random.default_rng(cfg.seed)
        self.model: Any = None  # the SB3 learner, set by `attach`
        self.window: ReplayBuffer | None = None
        # SAC maximises its own entropy, so an AIRL/GCL reward's -log π would count it twice
        self.reward_log_pi = disc.needs_log_pi and cfg.learner == "ppo"

    def attach(self, model: Any, window: int) -> None:
        """The SB3 learner, and how many of its latest transitions the discriminator sees."""
        self.model = model
        self.window = ReplayBuffer(window, self.device)

    def log_pi(self, obs: TensorObs, acts: torch.Tensor) -> torch.Tensor:
        if not self.disc.needs_log_pi:
            return torch.zeros(len(acts), device=self.device)
        with torch.no_grad():
            return learner_log_prob(self.model, obs, acts).reshape(-1).float()

    def batch(self, t: TensorTransitions, with_log_pi: bool = True) -> DiscriminatorBatch:
        """`t` with the learner's log π(a|s) (zeros unless asked for and needed)."""
        log_pi = self.log_pi(t.obs, t.acts) if with_log_pi else torch.zeros(len(t.acts))
        return DiscriminatorBatch(t.obs, t.acts, t.next_obs, t.terminal, log_pi.to(self.device))

    @torch.no_grad()
    def pay(self, b: DiscriminatorBatch, update_scale: bool) -> torch.Tensor:
        """The learner's reward for b, scaled by the running std when configured."""
        r = self.disc.policy_reward(b)
        if not self.cfg.normalize_reward:
            return r
        if update_scale:
            self.scale.update(r)
        return r / max(self.scale.std, 1e-8)

    def env_reward(self, obs: Obs, acts: np.ndarray, next_obs: Obs, dones: np.ndarray) -> Any:
        """`RewardVecEnvWrapper`'s reward function: records the step, returns the pay."""
        assert self.window is not None
        steps = TensorTransitions(*self.disc.reward.to_tensors(obs, acts, next_obs, dones))
        self.window.add(steps)
        b = self.batch(steps, with_log_pi=self.reward_log_pi)
        return self.pay(b, update_scale=True).cpu().numpy()

    def relabel(self, samples: Any) -> torch.Tensor:
        """An off-policy minibatch's rewards under the current discriminator (DAC)."""
        acts = samples.actions
        if isinstance(self.spaces.action, gym.spaces.Box):  # SB3 stores actions in [-1, 1]
            low = torch.as_tensor(self.spaces.action.low, device=acts.device)
            high = torch.as_tensor(self.spaces.action.high, device=acts.device)
            acts = low + 0.5 * (acts + 1.0) * (high - low)
        else:
            acts = acts.reshape(-1).long()
        replayed = TensorTransitions(
            samples.observations, acts, samples.next_observations, samples.dones.reshape(-1)
        )
        b = self.batch(replayed, self.reward_log_pi)
        return self.pay(b, update_scale=False)

    def expert_batch(self, n: int) -> DiscriminatorBatch:
        return self.batch(self.expert.sample(n, self.rng))

    def learner_batch(self, n: int) -> DiscriminatorBatch:
        assert self.window is not None
        return self.batch(self.window.sample(n, self.rng))

    def train_round(self) -> dict[str, float]:
        """`disc_updates` steps of the discriminator; metrics of the last minibatch."""
        n = self.cfg.demo_batch_size
        rows = []
        for _ in range(self.cfg.disc_updates):
            expert, learner = self.expert_batch(n), self.learner_batch(n)
            loss = self.loss(self.disc, expert, learner)
            penalty = torch.zeros(())
            if self.cfg.grad_penalty > 0:
                penalty = gradient_penalty(self.disc, expert, learner)
            self.opt.zero_grad()
            (loss + self.cfg.grad_penalty * penalty).backward()
            self.opt.step()
            with torch.no_grad():
                e_logits, l_logits = self.disc.logits(expert), self.disc.logits(learner)
                rows.append(
                    {
                        "disc_loss": float(loss),
                        "grad_penalty": float(penalty),
                        "disc_accuracy": float(
                            0.5 * ((e_logits > 0).float().mean() + (l_logits < 0).float().mean())
                        ),
                        "expert_reward": float(self.disc.reward(*expert[:4]).mean()),
                        "learner_reward": float(self.disc.reward(*learner[:4]).mean()),
                    }
                )
        return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}

    def checkpoint_state(self) -> dict[str, Any]:
        """The discriminator, its optimiser, the reward scale, the window and the generator,
        for `save_checkpoint`."""
        assert self.window is not None
        return {
            "disc": self.disc.state_dict(), "opt": self.opt.state_dict(),
            "scale": self.scale.checkpoint_state(), "window": self.window.state_dict(),
            "rng": self.rng.bit_generator.state,
        }  # fmt: skip

    def load_checkpoint_state(self, state: dict[str, Any]) -> None:
        """Restore what `checkpoint_state` returned (after `attach`)."""
        assert self.window is not None
        self.disc.load_state_dict(state["disc"])
        self.opt.load_state_dict(state["opt"])
        self.scale.load_checkpoint_state(state["scale"])
        self.window.load_state_dict(state["window"])
        self.rng.bit_generator.state = state["rng"]
