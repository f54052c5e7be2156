"""A mixture-of-Gaussians head with its means squashed into the action bounds
(robomimic's BC-GMM).

Paper: Mandlekar et al. 2021, "What Matters in Learning from Offline Human Demonstrations
for Robot Manipulation" (robomimic), whose BC-GMM head is K Gaussian components with
softplus spreads and a floor, trained by the demonstrations' likelihood; at evaluation it
takes a component's mean (their "low-noise" evaluation). Here each component is a
diagonal Gaussian over a whole action chunk in [-1, 1] (the bounds mapped affinely), its
mean tanh-squashed into them, as robomimic's default (`use_tanh=False`) has it.

Why not a mixture in pre-tanh space with the tanh change of variables, as the single
Gaussian head has it: experts that saturate (Pendulum's at ±2 on many steps) put their
actions at atanh(±1), i.e. at the clamp's ±7.25, and the mixture then covered them with
one broad component (pre-tanh std 10 to 24) that became the heaviest. Measured on
Pendulum-v1 from 20 expert episodes, hidden 64,64: 0.56 normalised acting by the mode,
0.11 by sampling, against 0.96 and 0.39 for this form (both about 1.0 at 256,256).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

MIN_STD = 1e-2
"""The floor on each component's spread in [-1, 1], added after softplus (robomimic's
`min_std`, 1e-4 there: at 1e-4 the mixture on Pendulum-v1 scored 0.63 by its mode against
0.96 at 1e-2, its components shrinking onto a few demonstrations each)."""


def n_outputs(components: int, dim: int) -> int:
    """The trunk's output width for `components` components over `dim` numbers: a logit,
    a mean and a spread each."""
    return components * (1 + 2 * dim)


def split(
    out: torch.Tensor, components: int, dim: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The trunk's output (B, n_outputs) -> logits (B, K), means (B, K, dim) and spreads
    (B, K, dim), softplus plus `MIN_STD`."""
    logits = out[:, :components]
    mean, raw_std = out[:, components:].reshape(-1, components, 2, dim).unbind(2)
    return logits, mean, F.softplus(raw_std) + MIN_STD


def log_prob(
    logits: torch.Tensor,
    mean: torch.Tensor,
    std: torch.Tensor,
    u: torch.Tensor,
    keep: torch.Tensor | None = None,
) -> torch.Tensor:
    """log p(u) of actions u (B, dim) in [-1, 1] under the mixture whose component means
    are tanh(mean), (B,).

    keep: (B, dim) 1 where a number counts, 0 where it is padding (a chunk past the
        episode's end): left out of every component's density, i.e. marginalised.
    """
    z = (u.unsqueeze(1) - torch.tanh(mean)) / std  # (B, K, dim)
    per_dim = -0.5 * z.pow(2) - std.log() - 0.5 * math.log(2 * math.pi)
    if keep is not None:
        per_dim = per_dim * keep.unsqueeze(1)
    components = per_dim.sum(-1) + torch.log_softmax(logits, dim=-1)  # (B, K)
    return torch.logsumexp(components, dim=-1)


def pick(logits: torch.Tensor, mean: torch.Tensor, uniform: torch.Tensor | None) -> torch.Tensor:
    """A component's squashed mean per row, (B, dim): drawn with probability its weight
    by `uniform` (B,) numbers in [0, 1) (inverse CDF), or the heaviest when None."""
    if uniform is None:
        k = logits.argmax(dim=-1)
    else:
        cdf = torch.softmax(logits, dim=-1).cumsum(-1)
        k = (cdf < uniform.unsqueeze(-1)).sum(-1).clamp(max=logits.shape[-1] - 1)
    chosen = k.view(-1, 1, 1).expand(-1, 1, mean.shape[-1])
    return torch.tanh(mean.gather(1, chosen).squeeze(1))
