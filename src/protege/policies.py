"""Policies learned by protege: an observation encoder, an MLP trunk and an action head.

Discrete actions get a categorical head; Box actions a tanh-squashed Gaussian whose mean
action is always inside the bounds (or a deterministic tanh head for an MSE loss).
A policy saves to one `.pt` file holding its spaces and settings, so it reloads without
the code or data that trained it (`ActorPolicy.load`); `protege.export` writes it for use
without protege (a `torch.export` program, ONNX).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from minari.serialization import deserialize_space, serialize_space
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from protege.data.types import Obs
from protege.envs import Spaces
from protege.errors import ConfigError, RunDirError
from protege.heads import gmm
from protege.heads.acting import ActingState
from protege.heads.diffusion import ddim_sample, denoiser, denoising_loss
from protege.nets import TensorObs, encoder_dim, make_encoder, mlp, obs_to_tensor
from protege.rundir import atomic_write

LOG_STD_MIN, LOG_STD_MAX = -2.5, 2.0
LOG_EPS = 1e-6
UNIT_CLAMP = 1e-6  # keeps atanh finite for expert actions exactly at the bounds

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "leaky_relu": nn.LeakyReLU,
}
"""The trunk's activation by the name recorded in policy.pt."""


HEADS = ("gaussian", "deterministic", "gmm", "diffusion")
"""Box action heads: tanh-squashed Gaussian, deterministic tanh (MSE), mixture of Gaussians
with means squashed into the bounds (`protege.heads.gmm`), diffusion over action chunks
(`protege.heads.diffusion`)."""
CONTINUOUS_ONLY = ("gmm", "diffusion")
REDRAWS = ("episode", "step")
"""When a sampling head draws its random numbers (`PolicyArch.redraw`): "step" (the
default, Diffusion Policy's) or "episode", for demonstrations that keep to one mode per
episode. On TwoPaths (diffusion, fit seeds 0-2, 300 evaluation episodes each) the same
trained policies succeeded in 0.97-0.99 of episodes drawing once per episode and 0.86-0.91
drawing every step, where a step's sample can land between the two modes or switch
between them; on the unimodal Meta-World tasks drawing once cost 0-4 points, a draw in the
tail then biasing the whole episode (docs/heads.md)."""


@dataclass(frozen=True)
class PolicyArch:
    """Network shape and how the policy acts. All of it is saved in policy.pt, so a file
    rebuilds its net alone; a field a file does not record has its default, which is how
    such files were built (ReLU, one observation, one action, no sampling).

    hidden: MLP hidden sizes after the encoder (the denoiser's, for diffusion).
    cnn_features: CNN feature width for image observations.
    head: Box actions only, one of HEADS; Discrete actions always get a categorical head.
    activation: the trunk's activation, a key of ACTIVATIONS.
    normalize_obs: standardise Box observations (statistics in the weights).
    history: observations the policy sees, the current one and the H-1 before it; each is
        encoded alone and the features concatenated.
    chunk: actions predicted per step (ACT's chunking), executed by temporal ensembling.
    components: the gmm head's mixture components.
    gmm_act: how the gmm head acts: "sample" (a component drawn by weight, its mean) or
        "mode" (the heaviest component's mean).
    diffusion_steps: the diffusion head's training noise steps (DDPM).
    sample_steps: DDIM steps per action chunk when acting.
    ema_decay: the diffusion head's weight average (its copy acts).
    temporal_ensemble: ACT's m: weight exp(-m·i) of the i-th oldest prediction of a step.
    action_steps: actions of each chunk played open loop before predicting again; 1 =
        predict every step and ensemble (`heads.acting`).
    redraw: when a sampling head (diffusion, gmm acting by "sample") draws its random
        numbers: "episode" (once, at the episode's first step: the same noise all episode,
        so the policy keeps to one mode) or "step" (fresh at every step).
    seed: seeds the per-episode random streams of sampling heads, with the episode index.
    """

    hidden: tuple[int, ...] = (256, 256)
    cnn_features: int = 256
    head: str = "gaussian"
    activation: str = "relu"
    normalize_obs: bool = False
    history: int = 1
    chunk: int = 1
    components: int = 5
    gmm_act: str = "mode"
    diffusion_steps: int = 100
    sample_steps: int = 10
    ema_decay: float = 0.995
    temporal_ensemble: float = 0.01
    action_steps: int = 1
    redraw: str = "step"
    seed: int = 0

    @property
    def stateful(self) -> bool:
        """Whether acting needs per-row memory or randomness (`heads.acting`): a window, a
        chunk, or a sampling head. Otherwise the policy maps each observation alone."""
        sampling = self.head == "diffusion" or (self.head == "gmm" and self.gmm_act == "sample")
        return self.history > 1 or self.chunk > 1 or sampling


@dataclass
class ActionDist:
    """What a policy head returns for a batch: enough to score expert actions and act."""

    log_prob: torch.Tensor | None = None  # filled by `score`
    entropy: torch.Tensor | None = None
    mode: torch.Tensor = field(default_factory=lambda: torch.empty(0))


def _check_arch(arch: PolicyArch, action_space: gym.Space) -> None:
    """Refuse an architecture protege cannot build, in one line naming the fix."""
    if arch.head not in HEADS:
        raise ConfigError(f"policy head '{arch.head}' unknown; use one of {', '.join(HEADS)}")
    if arch.head in CONTINUOUS_ONLY and isinstance(action_space, gym.spaces.Discrete):
        raise ConfigError(
            f"the {arch.head} head is for Box actions, and this env's are {action_space}; "
            "use policy=mlp (a categorical head)"
        )
    if arch.activation not in ACTIVATIONS:
        raise ConfigError(
            f"policy activation '{arch.activation}' unknown; use one of " + ", ".join(ACTIVATIONS)
        )
    for name in ("history", "chunk", "components", "diffusion_steps", "sample_steps"):
        if getattr(arch, name) < 1:
            raise ConfigError(f"{name}={getattr(arch, name)}: must be at least 1 (PolicyArch)")
    if not 1 <= arch.action_steps <= arch.chunk:
        raise ConfigError(
            f"action_steps={arch.action_steps}: must lie in 1..chunk={arch.chunk}; "
            "a chunk holds only chunk actions to play"
        )
    if arch.sample_steps > arch.diffusion_steps:
        raise ConfigError(
            f"sample_steps={arch.sample_steps} exceeds diffusion_steps={arch.diffusion_steps}; "
            "sample in at most as many steps as the noise schedule has"
        )
    if arch.gmm_act not in ("sample", "mode"):
        raise ConfigError(f"gmm_act must be 'sample' or 'mode', not {arch.gmm_act!r}")
    if arch.redraw not in REDRAWS:
        raise ConfigError(f"redraw must be 'episode' or 'step', not {arch.redraw!r}")
    if not 0.0 <= arch.ema_decay < 1.0 or arch.temporal_ensemble < 0.0:
        raise ConfigError("ema_decay must lie in [0, 1) and temporal_ensemble be 0 or more")


def _keep(pad: torch.Tensor | None, b: int, k: int, like: torch.Tensor) -> torch.Tensor:
    """(B, K) float: 1 for a chunk step that counts, 0 for padding (all 1 without `pad`)."""
    if pad is None:
        return torch.ones(b, k, device=like.device)
    return (~pad.view(b, k)).to(like.device, torch.float32)


def _rows(obs: TensorObs) -> int:
    """The batch size (`shape[0]`, not `len`, which `torch.export` fixes to its example's)."""
    return (next(iter(obs.values())) if isinstance(obs, dict) else obs).shape[0]


class ActorPolicy(nn.Module):
    """obs -> action distribution; call it on NumPy batches to act.

    With `arch.history` H > 1 the observations given to `features`, `dist`, `mode`,
    `predict` and `diffusion_loss` are windows: (B·H, ...) frames, row b's H frames oldest
    first (`heads.windows`). With `arch.chunk` K > 1 expert actions are chunks
    (B, K, *act_shape) and `pad` (B, K) marks the steps past an episode's end.

    Called on a NumPy batch it acts: for the Gaussian, deterministic and categorical heads
    on one observation, the mode, each row alone, as always; with a window, chunks or a
    sampling head (`arch.stateful`), through per-row memory (`heads.acting`) that
    `start_episode(slot, episode)` and `reset()` control.
    """

    low: torch.Tensor
    high: torch.Tensor

    def __init__(self, spaces: Spaces, arch: PolicyArch = PolicyArch()) -> None:
        super().__init__()
        self.spaces, self.arch = spaces, arch
        act = spaces.action
        self.encoder = make_encoder(spaces.observation, arch.cnn_features, arch.normalize_obs)
        self.discrete = isinstance(act, gym.spaces.Discrete)
        if isinstance(act, gym.spaces.Discrete):
            per_step = int(act.n)
        elif isinstance(act, gym.spaces.Box):
            if not (np.all(np.isfinite(act.low)) and np.all(np.isfinite(act.high))):
                raise ConfigError("Box action spaces must be bounded to be kept in bounds")
            self.act_dim = int(np.prod(act.shape))
            per_step = self.act_dim * (2 if arch.head == "gaussian" else 1)
            self.register_buffer("low", torch.as_tensor(act.low, dtype=torch.float32).flatten())
            self.register_buffer("high", torch.as_tensor(act.high, dtype=torch.float32).flatten())
        else:
            raise ConfigError(f"action space {act} is not supported (Discrete or bounded Box)")
        _check_arch(arch, act)
        activation = ACTIVATIONS[arch.activation]
        cond = encoder_dim(self.encoder) * arch.history
        self.sampler: tuple[str, int] | None = None  # the random numbers acting draws per row
        if arch.head == "gmm" and not self.discrete:
            out = gmm.n_outputs(arch.components, arch.chunk * self.act_dim)
            self.trunk = mlp(cond, arch.hidden, out, activation)
            self.sampler = ("uniform", 1) if arch.gmm_act == "sample" else None
        elif arch.head == "diffusion" and not self.discrete:
            self.trunk = denoiser(cond, arch.chunk * self.act_dim, arch.hidden, activation)
            self.ema = AveragedModel(
                self._net(), multi_avg_fn=get_ema_multi_avg_fn(arch.ema_decay), use_buffers=True
            ).requires_grad_(False)
            self.sampler = ("normal", arch.chunk * self.act_dim)
        else:
            self.trunk = mlp(cond, arch.hidden, per_step * arch.chunk, activation)
        self._acting = (
            ActingState(
                arch.history,
                arch.chunk,
                arch.temporal_ensemble,
                arch.seed,
                self.sampler,
                arch.action_steps,
                arch.redraw,
            )
            if arch.stateful
            else None
        )

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def _net(self) -> nn.ModuleDict:
        """The trained networks as one module: what the diffusion head's EMA averages."""
        return nn.ModuleDict({"encoder": self.encoder, "trunk": self.trunk})

    def trainable_parameters(self) -> list[nn.Parameter]:
        """The parameters an optimiser updates (not the EMA copy, which follows them)."""
        return [p for p in self.parameters() if p.requires_grad]

    def update_ema(self) -> None:
        """Move the diffusion head's EMA towards the current weights (after each update;
        the first call copies them); a no-op for the other heads."""
        if self.arch.head == "diffusion" and not self.discrete:
            self.ema.update_parameters(self._net())

    # -- maths -------------------------------------------------------------------------
    def to_unit(self, acts: torch.Tensor) -> torch.Tensor:
        """Box actions -> [-1, 1]: where the losses of BC and soft Q-learning compare them."""
        return 2.0 * (acts - self.low) / (self.high - self.low) - 1.0

    def from_unit(self, u: torch.Tensor) -> torch.Tensor:
        """[-1, 1] -> the env's Box action units (the inverse of `to_unit`)."""
        return self.low + (u + 1.0) * 0.5 * (self.high - self.low)

    def features(self, obs: TensorObs, encoder: nn.Module | None = None) -> torch.Tensor:
        """Encoded observations, (B, H·F): each of a window's H frames (B·H rows) encoded
        alone, the features of a row's frames concatenated, oldest first."""
        x = (encoder if encoder is not None else self.encoder)(obs)
        h = self.arch.history
        return x if h == 1 else x.reshape(-1, h * x.shape[-1])

    def dist(
        self, obs: TensorObs, acts: torch.Tensor | None = None, pad: torch.Tensor | None = None
    ) -> ActionDist:
        """The action distribution on `obs`; with `acts`, also their log-likelihood.

        With chunks, `log_prob` (B,) sums the steps' log-likelihoods but those in `pad`,
        divided by K; `entropy` (B,) is the steps' mean; `mode` is (B, K, ...). The gmm
        head has no `entropy`; the diffusion head no distribution (`diffusion_loss`)."""
        if self.arch.head == "diffusion" and not self.discrete:
            raise ValueError("the diffusion head has no likelihood; train it by diffusion_loss")
        out = self.trunk(self.features(obs))
        b, k = len(out), self.arch.chunk
        if self.arch.head == "gmm" and not self.discrete:
            return self._gmm_dist(out, acts, pad)
        if k == 1:
            return self._step_dist(out, acts)
        steps = None if acts is None else acts.reshape(b * k, *acts.shape[2:])
        d = self._step_dist(out.reshape(b * k, -1), steps)
        keep = _keep(pad, b, k, out)
        return ActionDist(
            log_prob=None if d.log_prob is None else (d.log_prob.view(b, k) * keep).sum(1) / k,
            entropy=None if d.entropy is None else d.entropy.view(b, k).mean(1),
            mode=d.mode.reshape(b, k, *d.mode.shape[1:]),
        )

    def _step_dist(self, out: torch.Tensor, acts: torch.Tensor | None) -> ActionDist:
        """The Gaussian, deterministic or categorical head on one step's outputs (B, ...)."""
        if self.discrete:
            logp_all = torch.log_softmax(out, dim=-1)
            d = ActionDist(mode=out.argmax(dim=-1))
            d.entropy = -(logp_all.exp() * logp_all).sum(-1)
            if acts is not None:
                d.log_prob = logp_all.gather(1, acts.long().view(-1, 1)).squeeze(1)
            return d
        if self.arch.head == "deterministic":
            return ActionDist(mode=self.from_unit(torch.tanh(out)))
        mu, log_std = out.chunk(2, dim=-1)
        log_std = log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)
        d = ActionDist(mode=self.from_unit(torch.tanh(mu)))
        d.entropy = (log_std + 0.5 * math.log(2 * math.pi * math.e)).sum(-1)  # pre-squash
        if acts is not None:
            u = self.to_unit(acts.view(len(acts), -1)).clamp(-1 + UNIT_CLAMP, 1 - UNIT_CLAMP)
            pre = torch.atanh(u)
            normal = torch.distributions.Normal(mu, log_std.exp())
            # change of variables through tanh (and the fixed affine map to the bounds)
            d.log_prob = (normal.log_prob(pre) - torch.log(1 - u.pow(2) + LOG_EPS)).sum(-1)
        return d

    def _gmm_dist(
        self, out: torch.Tensor, acts: torch.Tensor | None, pad: torch.Tensor | None
    ) -> ActionDist:
        """The mixture's heaviest component as the mode and, with `acts`, the chunk's
        log-likelihood (padding marginalised out) divided by K."""
        b, k, a = len(out), self.arch.chunk, self.act_dim
        logits, mean, std = gmm.split(out, self.arch.components, k * a)
        heaviest = self.from_unit(gmm.pick(logits, mean, None).view(b, k, a))
        d = ActionDist(mode=heaviest[:, 0] if k == 1 else heaviest)
        if acts is not None:
            u = self.to_unit(acts.reshape(b, k, a)).clamp(-1.0, 1.0)
            keep = _keep(pad, b, k, out).unsqueeze(-1).expand(b, k, a).reshape(b, k * a)
            d.log_prob = gmm.log_prob(logits, mean, std, u.reshape(b, k * a), keep) / k
        return d

    def diffusion_loss(
        self,
        obs: TensorObs,
        acts: torch.Tensor,
        pad: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """The diffusion head's DDPM loss per sample, (B,): the squared error of its noise
        prediction on the expert chunk in [-1, 1], summed over action numbers, averaged
        over the K steps with those in `pad` counted 0. Noise and steps come from
        `generator` (CPU)."""
        b, k, a = len(acts), self.arch.chunk, self.act_dim
        x0 = self.to_unit(acts.reshape(b, k, a)).clamp(-1.0, 1.0).reshape(b, k * a)
        cond = self.features(obs)
        err = denoising_loss(self.trunk, x0, cond, self.arch.diffusion_steps, generator)
        return (err.view(b, k, a).sum(-1) * _keep(pad, b, k, x0)).sum(1) / k

    def predict(self, obs: TensorObs, draws: torch.Tensor | None = None) -> torch.Tensor:
        """Each row's chunk of next actions, (B, K, D): in [-1, 1] for Box (D = A), the
        probabilities of each action for Discrete (D = n).

        draws: per-row random numbers (B, n) from `heads.acting`: the gmm head's uniform
            for drawing a component, the diffusion head's initial noise (B, K·A); None
            takes the heaviest component, or starts the diffusion from zero noise.
        """
        b, k = _rows(obs) // self.arch.history, self.arch.chunk
        if self.arch.head == "diffusion" and not self.discrete:
            net = self.ema.module  # the averaged weights act
            assert isinstance(net, nn.ModuleDict)
            noise = draws if draws is not None else torch.zeros(b, k * self.act_dim)
            cond = self.features(obs, net["encoder"])
            steps, sample_steps = self.arch.diffusion_steps, self.arch.sample_steps
            x = ddim_sample(net["trunk"], cond, noise.to(cond.device), steps, sample_steps)
            return x.view(b, k, self.act_dim)
        out = self.trunk(self.features(obs))
        if self.discrete:
            return torch.softmax(out.view(b, k, -1), dim=-1)
        if self.arch.head == "gmm":
            logits, mean, _ = gmm.split(out, self.arch.components, k * self.act_dim)
            uniform = None if draws is None or self.sampler is None else draws[:, 0]
            return gmm.pick(logits, mean, uniform).view(b, k, self.act_dim)
        steps = out.view(b, k, -1)
        mu = steps if self.arch.head == "deterministic" else steps[..., : self.act_dim]
        return torch.tanh(mu)

    def mode(self, obs: TensorObs) -> torch.Tensor:
        """The deterministic action on preprocessed `obs`: `dist(obs).mode` without the rest
        (the argmax for Discrete; the squashed mean, or the MSE head, mapped to the bounds).
        With chunks, each row's first action; gmm: the heaviest component's mean;
        diffusion: the chunk denoised from zero noise."""
        if self.arch.chunk > 1 or self.arch.head in CONTINUOUS_ONLY:
            first = self.predict(obs)[:, 0]
            return first.argmax(dim=-1) if self.discrete else self.from_unit(first)
        out = self.trunk(self.features(obs))
        if self.discrete:
            return out.argmax(dim=-1)
        mu = out if self.arch.head == "deterministic" else out.chunk(2, dim=-1)[0]
        return self.from_unit(torch.tanh(mu))

    # -- acting ------------------------------------------------------------------------
    @torch.no_grad()
    def __call__(self, obs: Obs) -> np.ndarray:
        """Actions for a NumPy batch, shaped for the action space: the mode of each row
        alone, or (`arch.stateful`) the temporal ensemble of the row's chunk predictions
        from its window, sampled from its episode's stream (`heads.acting`)."""
        x = obs_to_tensor(obs, self.spaces.observation, self.device)
        if self._acting is None:
            mode = self.mode(x)
        else:
            pred = self._acting.act(x, self.predict)
            mode = pred.argmax(dim=-1) if self.discrete else self.from_unit(pred)
        acts = mode.cpu().numpy()
        if self.discrete:
            return acts.astype(np.int64)
        space = self.spaces.action
        return acts.reshape(len(acts), *space.shape).astype(space.dtype)  # type: ignore[misc]

    def start_episode(self, slot: int, episode: int) -> None:
        """Row `slot` of the coming batches is episode `episode` from its first step
        (`protege.data.rollout` calls it): its window and pending chunk predictions
        restart and its random stream is seeded from (arch.seed, episode). A no-op for a
        policy that maps each observation alone."""
        if self._acting is not None:
            self._acting.start_episode(slot, episode)

    def reset(self) -> None:
        """Forget every row's window, chunk predictions and random stream."""
        if self._acting is not None:
            self._acting.reset()

    # -- persistence ---------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write weights, spaces and architecture to one file, atomically."""
        payload = {
            "format": "protege.policy/1",
            "spaces": json.dumps(
                {
                    "observation": serialize_space(self.spaces.observation),
                    "action": serialize_space(self.spaces.action),
                }
            ),
            "arch": json.dumps(asdict(self.arch)),
            "state_dict": {k: v.cpu() for k, v in self.state_dict().items()},
        }
        atomic_write(Path(path), lambda f: torch.save(payload, f))

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "cpu") -> ActorPolicy:
        """Rebuild a saved policy (weights only: no code is unpickled)."""
        path = Path(path)
        if not path.is_file():
            raise RunDirError(f"{path}: no policy file here; train one with `protege train`")
        try:
            payload = torch.load(path, map_location=device, weights_only=True)
            spaces_json = json.loads(payload["spaces"])
            spaces = Spaces(
                deserialize_space(spaces_json["observation"]),
                deserialize_space(spaces_json["action"]),
            )
            arch_d = json.loads(payload["arch"])
            arch = PolicyArch(**{**arch_d, "hidden": tuple(arch_d["hidden"])})
        except Exception as exc:  # noqa: BLE001 - any failure means the file is unusable
            raise RunDirError(f"{path}: not a readable protege policy ({exc})") from None
        if not all(torch.isfinite(v).all() for v in payload["state_dict"].values()):
            raise RunDirError(f"{path}: holds NaN or infinite weights; train the run again")
        policy = cls(spaces, arch).to(device)
        policy.load_state_dict(payload["state_dict"])
        policy.eval()
        return policy
