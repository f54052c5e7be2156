"""A diffusion policy's head: DDPM training and DDIM sampling over action chunks.

Paper: Chi et al. 2023, "Diffusion Policy: Visuomotor Policy Learning via Action
Diffusion" (here with an MLP denoiser instead of their 1-D U-Net). Training (Ho et al.
2020, DDPM) corrupts an expert chunk x0 in [-1, 1] to x_t = √ᾱ_t·x0 + √(1-ᾱ_t)·ε at a
random step t and teaches the denoiser to predict ε; acting (Song et al. 2021, DDIM with
η = 0) walks from Gaussian noise to a chunk in a few deterministic steps.

The schedule is the squared cosine one (Nichol & Dhariwal 2021), written out here
rather than taken from `diffusers`: a saved policy.pt must act with torch alone. It is
checked against diffusers' `DDPMScheduler.add_noise` and `DDIMScheduler.step`
(beta_schedule="squaredcos_cap_v2", clip_sample=True, set_alpha_to_one=True, the
"leading" timestep spacing): the same numbers to float32 rounding (docs/heads.md).
"""

from __future__ import annotations

import functools
import math

import torch
from torch import nn

from protege.nets import mlp

MAX_BETA = 0.999
"""diffusers' cap on each β_t of the cosine schedule (its last steps would reach 1)."""
TIME_FEATURES = 32
"""Width of the sinusoidal embedding of the diffusion step t."""


@functools.cache
def alphas_cumprod(steps: int) -> torch.Tensor:
    """ᾱ_t for t = 0..steps-1 (float32, CPU): the squared cosine schedule
    ᾱ(s) = cos²((s + 0.008) / 1.008 · π/2), as β_t = min(1 - ᾱ((t+1)/T) / ᾱ(t/T), 0.999)."""

    def alpha_bar(s: float) -> float:
        return math.cos((s + 0.008) / 1.008 * math.pi / 2) ** 2

    betas = [
        min(1 - alpha_bar((t + 1) / steps) / alpha_bar(t / steps), MAX_BETA) for t in range(steps)
    ]
    return torch.cumprod(1.0 - torch.tensor(betas, dtype=torch.float32), dim=0)


def add_noise(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor, steps: int) -> torch.Tensor:
    """x_t = √ᾱ_t·x0 + √(1-ᾱ_t)·noise: x0, noise (B, D); t (B,) integer steps in [0, steps)."""
    ac = alphas_cumprod(steps).to(x0.device)[t].unsqueeze(-1)
    return ac.sqrt() * x0 + (1.0 - ac).sqrt() * noise


def ddim_timesteps(steps: int, sample_steps: int) -> list[int]:
    """The steps DDIM visits, from noisy to clean: diffusers' "leading" spacing,
    k·(steps // sample_steps) for k = sample_steps-1..0 (100 and 10: 90, 80, ..., 0)."""
    ratio = steps // sample_steps
    return [k * ratio for k in reversed(range(sample_steps))]


def ddim_step(
    eps: torch.Tensor, t: int, x: torch.Tensor, steps: int, sample_steps: int
) -> torch.Tensor:
    """One deterministic DDIM step (η = 0) from x_t to x_{t - steps // sample_steps}.

    The predicted clean sample x̂0 = (x_t - √(1-ᾱ_t)·ε) / √ᾱ_t is clipped to [-1, 1] (the
    action bounds); the next sample is √ᾱ_prev·x̂0 + √(1-ᾱ_prev)·ε, with ᾱ_prev = 1 past
    the last step. eps, x: (B, D).
    """
    ac = alphas_cumprod(steps)
    prev = t - steps // sample_steps
    a_t = float(ac[t])
    a_prev = float(ac[prev]) if prev >= 0 else 1.0
    x0 = ((x - math.sqrt(1.0 - a_t) * eps) / math.sqrt(a_t)).clamp(-1.0, 1.0)
    return math.sqrt(a_prev) * x0 + math.sqrt(1.0 - a_prev) * eps


def timestep_embedding(t: torch.Tensor, dim: int = TIME_FEATURES) -> torch.Tensor:
    """Sinusoidal features of the diffusion step (Diffusion Policy's `SinusoidalPosEmb`):
    (B,) -> (B, dim), sines then cosines of t at geometrically spaced frequencies."""
    half = dim // 2
    freqs = torch.exp(torch.arange(half, device=t.device) * -(math.log(10000.0) / (half - 1)))
    angles = t.float().unsqueeze(-1) * freqs
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


def denoiser(
    cond_dim: int, act_dim: int, hidden: tuple[int, ...], activation: type[nn.Module] = nn.ReLU
) -> nn.Sequential:
    """ε_θ's network: an MLP over [c, embedding of t, x_t] (see `denoise`)."""
    return mlp(cond_dim + TIME_FEATURES + act_dim, hidden, act_dim, activation)


def denoise(net: nn.Module, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
    """ε_θ(x_t, t, c): the noise in the noisy chunk x (B, D) at steps t (B,), given the
    encoded observation window c (B, cond_dim); (B, D)."""
    return net(torch.cat([cond, timestep_embedding(t), x], dim=-1))


def ddim_sample(
    net: nn.Module, cond: torch.Tensor, noise: torch.Tensor, steps: int, sample_steps: int
) -> torch.Tensor:
    """A chunk in [-1, 1] from initial noise (B, D) in `sample_steps` DDIM steps:
    deterministic given `noise`, so seeding the noise seeds the action."""
    x = noise
    for t in ddim_timesteps(steps, sample_steps):
        tt = torch.full((len(x),), t, dtype=torch.long, device=x.device)
        x = ddim_step(denoise(net, x, tt, cond), t, x, steps, sample_steps)
    return x


def denoising_loss(
    net: nn.Module,
    x0: torch.Tensor,
    cond: torch.Tensor,
    steps: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """DDPM's ε-prediction error per sample and action dimension, (B, D): a step t and
    noise ε drawn from `generator` (CPU, so a resumed fit draws the same), x0 in [-1, 1]."""
    noise = torch.randn(x0.shape, generator=generator).to(x0.device)
    t = torch.randint(0, steps, (len(x0),), generator=generator).to(x0.device)
    eps = denoise(net, add_noise(x0, noise, t, steps), t, cond)
    return (eps - noise).pow(2)
