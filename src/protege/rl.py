"""The inner reinforcement-learning loop: a thin adapter over Stable-Baselines3.

Everything protege does with an SB3 learner goes through here: building one with tuned
defaults, replay buffers that relabel rewards, log π(a|s), saving. So does everything that
reaches past SB3's public API (members named `_...`, the replay buffer's arrays, the
episode buffers, callback hooks): `learner_state` / `restore_learner_state` checkpoint a
learner, `recent_returns` reads its episodes and `round_callback` paces training in rounds.
An SB3 upgrade that moves those internals is fixed in this one module.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from protege.envs import EnvFactory, make_env
from protege.errors import ConfigError
from protege.rundir import atomic_write

ALGOS = ("ppo", "sac", "dqn")


def sb3_class(algo: str) -> Any:
    """The SB3 algorithm class for 'ppo', 'sac' or 'dqn'."""
    from stable_baselines3 import DQN, PPO, SAC

    classes = {"ppo": PPO, "sac": SAC, "dqn": DQN}
    if algo not in classes:
        raise ConfigError(f"--algo {algo}: unknown; choose one of {', '.join(ALGOS)}")
    return classes[algo]


@dataclass(frozen=True)
class Recipe:
    """Published settings for training an expert with an SB3 algorithm on one env.

    name: what `protege expert train --recipe` takes. envs: the env names (without version,
    lower case) it is for. source: where the settings come from. steps: the budget they were
    published with. normalize: wrap the env in SB3's `VecNormalize` (observations and
    rewards); the observation statistics are saved inside the model file. kwargs: the SB3
    algorithm's settings; `policy_kwargs["activation_fn"]` is a name ("relu", "tanh").
    """

    name: str
    algo: str
    envs: tuple[str, ...]
    source: str
    steps: int
    n_envs: int = 1
    normalize: bool = False
    kwargs: Mapping[str, Any] = field(default_factory=dict)


_ZOO = "rl-baselines3-zoo hyperparams/ppo.yml (tuned for the v3 MuJoCo envs)"
_ZOO_SAC = "rl-baselines3-zoo hyperparams/sac.yml (the v3 MuJoCo envs)"
_ZOO_NET = {"log_std_init": -2, "ortho_init": False, "activation_fn": "relu",
            "net_arch": {"pi": [256, 256], "vf": [256, 256]}}  # fmt: skip

RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe("ppo-hopper", "ppo", ("hopper",), _ZOO, 1_000_000, normalize=True, kwargs={
            "batch_size": 32, "n_steps": 512, "gamma": 0.999, "learning_rate": 9.80828e-05,
            "ent_coef": 0.00229519, "clip_range": 0.2, "n_epochs": 5, "gae_lambda": 0.99,
            "max_grad_norm": 0.7, "vf_coef": 0.835671, "policy_kwargs": _ZOO_NET}),
        Recipe("ppo-halfcheetah", "ppo", ("halfcheetah",), _ZOO, 1_000_000, normalize=True,
               kwargs={
            "batch_size": 64, "n_steps": 512, "gamma": 0.98, "learning_rate": 2.0633e-05,
            "ent_coef": 0.000401762, "clip_range": 0.1, "n_epochs": 20, "gae_lambda": 0.92,
            "max_grad_norm": 0.8, "vf_coef": 0.58096, "policy_kwargs": _ZOO_NET}),
        Recipe("ppo-walker2d", "ppo", ("walker2d",), _ZOO, 1_000_000, normalize=True, kwargs={
            "batch_size": 32, "n_steps": 512, "gamma": 0.99, "learning_rate": 5.05041e-05,
            "ent_coef": 0.000585045, "clip_range": 0.1, "n_epochs": 20, "gae_lambda": 0.95,
            "max_grad_norm": 1.0, "vf_coef": 0.871923, "policy_kwargs": _ZOO_NET}),
        Recipe("ppo-swimmer", "ppo", ("swimmer",), _ZOO, 1_000_000, normalize=True,
               kwargs={"gamma": 0.9999}),
        Recipe("ppo-ant", "ppo", ("ant",), _ZOO, 1_000_000, normalize=True),
        # rl-zoo's SAC for MuJoCo: SB3's defaults with 10k random steps first; the
        # off-policy learner escapes the "stand still" optimum that PPO found on Hopper-v5
        # (1052 after 1M steps: the healthy bonus alone)
        *(Recipe(f"sac-{name}", "sac", (name,), _ZOO_SAC, 1_000_000,
                 kwargs={"learning_starts": 10_000, **({"gamma": 0.9999}
                                                       if name == "swimmer" else {})})
          for name in ("hopper", "halfcheetah", "walker2d", "swimmer", "ant")),
    )
}  # fmt: skip
"""Expert recipes by name; `recipe_for(env_id, algo)` picks the one for an env."""


def recipe_for(env_id: str, algo: str) -> Recipe | None:
    """The recipe for `algo` on `env_id` ("Hopper-v5", "protege/HopperFixedHorizon-v5"), if any."""
    name = env_id.rpartition("/")[2].split("-v")[0].lower().removesuffix("fixedhorizon")
    return next((r for r in RECIPES.values() if r.algo == algo and name in r.envs), None)


def get_recipe(name: str) -> Recipe:
    """The recipe called `name`, or a ConfigError listing them."""
    if name not in RECIPES:
        raise ConfigError(f"--recipe {name}: unknown; choose one of {', '.join(RECIPES)}")
    return RECIPES[name]


def _sb3_kwargs(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """A recipe's settings as SB3 takes them (activation names become torch modules)."""
    out = dict(kwargs)
    policy_kwargs = dict(out.get("policy_kwargs", {}))
    if "activation_fn" in policy_kwargs:
        import torch

        policy_kwargs["activation_fn"] = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh}[
            policy_kwargs["activation_fn"]
        ]
        out["policy_kwargs"] = policy_kwargs
    return out


def train_sb3(
    env_id: str,
    algo: str = "ppo",
    steps: int = 100_000,
    seed: int = 0,
    n_envs: int = 4,
    device: str = "auto",
    callback: Any = None,
    recipe: Recipe | None = None,
    checkpoint_dir: Path | None = None,
    checkpoint_every: int = 50_000,
    **algo_kwargs: Any,
) -> Any:
    """Train an SB3 model on the env's own reward, e.g. to make an expert where no scripted
    one exists. Returns the model; `save_sb3(model, path)` writes the usual SB3 .zip (with
    the observation statistics when the recipe normalises).

    recipe: published settings (`RECIPES`); its algorithm, env count and normalisation
        replace `algo` and `n_envs`, and `algo_kwargs` override its settings.
    checkpoint_dir: where the model and its normalisation statistics are saved every
        `checkpoint_every` steps; when it already holds a checkpoint, training resumes from
        it (to `steps` in all). The caller removes it once the model is saved.
    """
    from gymnasium.spaces import Box, Discrete
    from stable_baselines3.common.callbacks import CallbackList
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    if recipe is not None:
        algo, n_envs = recipe.algo, recipe.n_envs
        algo_kwargs = {**_sb3_kwargs(recipe.kwargs), **algo_kwargs}
    cls = sb3_class(algo)
    probe = make_env(env_id)
    action_space = probe.action_space
    probe.close()
    if algo == "dqn" and not isinstance(action_space, Discrete):
        raise ConfigError(f"--algo dqn needs Discrete actions; {env_id} has {action_space}")
    if algo == "sac" and not isinstance(action_space, Box):
        raise ConfigError(f"--algo sac needs Box actions; {env_id} has {action_space}")
    if steps < 1:
        raise ConfigError("--steps must be at least 1")
    venv = make_vec_env(lambda: make_env(env_id), n_envs=1 if algo != "ppo" else n_envs, seed=seed)
    saved = checkpoint_dir / "model.zip" if checkpoint_dir is not None else None
    if saved is not None and saved.is_file():
        if recipe is not None and recipe.normalize:
            venv = VecNormalize.load(str(checkpoint_dir / "vecnormalize.pkl"), venv)  # type: ignore[operator]
        model = cls.load(saved, env=venv, device=device)
        buffer = checkpoint_dir / "replay_buffer.pkl"  # type: ignore[operator]
        if buffer.is_file():
            model.load_replay_buffer(buffer)
    else:
        if recipe is not None and recipe.normalize:
            gamma = float(algo_kwargs.get("gamma", 0.99))
            venv = VecNormalize(venv, gamma=gamma)
        model = cls("MlpPolicy", venv, seed=seed, device=device, verbose=0, **algo_kwargs)
    callbacks = [callback] if callback is not None else []
    if checkpoint_dir is not None:
        callbacks.append(_checkpoint_callback(checkpoint_dir, checkpoint_every))
    remaining = max(steps - model.num_timesteps, 0)
    model.learn(total_timesteps=remaining, callback=CallbackList(callbacks),
                reset_num_timesteps=False)  # fmt: skip
    return model


def _checkpoint_callback(directory: Path, every: int) -> Any:
    """An SB3 callback saving the model, its `VecNormalize` statistics and (off-policy) its
    replay buffer every `every` steps (each file whole or absent: `atomic_write`)."""
    from stable_baselines3.common.callbacks import BaseCallback

    class _Checkpoint(BaseCallback):
        """At the end of a rollout (its transitions stored), once `every` steps have passed."""

        def _on_training_start(self) -> None:
            self.last = self.num_timesteps

        def _on_step(self) -> bool:
            return True

        def _on_rollout_end(self) -> None:
            if self.num_timesteps - self.last >= every:
                self.last = self.num_timesteps
                directory.mkdir(parents=True, exist_ok=True)
                vec_normalize = self.model.get_vec_normalize_env()
                if vec_normalize is not None:
                    import pickle

                    atomic_write(directory / "vecnormalize.pkl",
                                 lambda f: pickle.dump(vec_normalize, f))  # fmt: skip
                model: Any = self.model
                if hasattr(model, "replay_buffer"):  # off-policy: resume with its data
                    atomic_write(directory / "replay_buffer.pkl",
                                 lambda f: model.save_replay_buffer(f))  # fmt: skip
                atomic_write(directory / "model.zip", lambda f: self.model.save(f))  # type: ignore[arg-type]

    return _Checkpoint()


def save_sb3(model: Any, out: str | Path) -> Path:
    """Save an SB3 model to `out` (a .zip), whole or not at all (`rundir.atomic_write`).

    A learner trained on a learned reward replays through protege's relabelling buffer,
    whose reward function cannot be pickled and means nothing outside training: the file
    leaves it out, so it loads with SB3 alone and a plain replay buffer. A model trained on
    normalised observations (`VecNormalize`) carries their statistics inside the file
    (`protege.experts.normalization`), so the file alone acts as it did in training.
    """
    from protege.experts.normalization import ObsNormalization, write_with_normalization

    out = Path(out)
    if out.suffix != ".zip":
        raise ConfigError(f"--out {out}: SB3 models are saved as .zip files")
    vec_normalize = model.get_vec_normalize_env() if model.get_env() is not None else None
    norm = ObsNormalization.from_vec_normalize(vec_normalize) if vec_normalize else None
    exclude = ["replay_buffer_class", "replay_buffer_kwargs"]
    atomic_write(out, lambda f: write_with_normalization(
        lambda b: model.save(b, exclude=exclude), norm, f))  # fmt: skip
    return out


def rich_progress_callback(total_steps: int, description: str) -> Any:
    """An SB3 callback that advances a Rich progress bar by env steps (SB3's own needs tqdm)."""
    from rich.progress import Progress
    from stable_baselines3.common.callbacks import BaseCallback

    class _RichProgress(BaseCallback):
        def _on_training_start(self) -> None:
            self.bar = Progress(transient=True)
            self.bar.start()
            self.task = self.bar.add_task(description, total=total_steps)

        def _on_step(self) -> bool:
            self.bar.update(self.task, completed=self.num_timesteps)
            return True

        def _on_training_end(self) -> None:
            self.bar.stop()

    return _RichProgress()


# -- training on a learned reward ----------------------------------------------------------

LEARNER_DEFAULTS: dict[str, dict[str, Any]] = {
    # Tuned on CartPole-v1 (rl-zoo's settings with constant rates): reaches 500 in ~30k steps.
    "ppo": {
        "n_steps": 32,
        "batch_size": 256,
        "n_epochs": 20,
        "gae_lambda": 0.8,
        "gamma": 0.98,
        "learning_rate": 1e-3,
        "ent_coef": 0.0,
    },
    # Tuned on Pendulum-v1: SAC with a small buffer and one update per step.
    "sac": {"learning_rate": 1e-3, "buffer_size": 100_000, "learning_starts": 1000},
    # Tuned on CartPole-v1 (rl-zoo's settings).
    "dqn": {
        "learning_rate": 2.3e-3,
        "batch_size": 64,
        "buffer_size": 100_000,
        "learning_starts": 1000,
        "gamma": 0.99,
        "target_update_interval": 10,
        "train_freq": 256,
        "gradient_steps": 128,
        "exploration_fraction": 0.16,
        "exploration_final_eps": 0.04,
        "policy_kwargs": {"net_arch": [256, 256]},
    },
}
"""SB3 settings protege uses for each learner unless the caller overrides them."""


def check_learner(algo: str, action_space: Any, env_id: str = "the env") -> Any:
    """The SB3 class for `algo`, after checking it can act in `action_space`."""
    from gymnasium.spaces import Box, Discrete

    cls = sb3_class(algo)
    if algo == "dqn" and not isinstance(action_space, Discrete):
        raise ConfigError(f"learner dqn needs Discrete actions; {env_id} has {action_space}")
    if algo == "sac" and not isinstance(action_space, Box):
        raise ConfigError(f"learner sac needs Box actions; {env_id} has {action_space}")
    return cls


def steps_taken(algo: str, steps: int, n_envs: int, overrides: dict[str, Any] | None = None) -> int:
    """The env steps an SB3 learner actually takes for `steps`: PPO collects whole rollouts
    of `n_envs` x `n_steps`, so it rounds up (8000 with 8 envs x 32 steps is 8192); the
    off-policy learners step one env and stop at `steps`."""
    if algo != "ppo":
        return steps
    rollout = n_envs * int({**LEARNER_DEFAULTS["ppo"], **(overrides or {})}["n_steps"])
    return -(-steps // rollout) * rollout


def make_vec_env(env: str | EnvFactory, n_envs: int, seed: int) -> Any:
    """An SB3 DummyVecEnv of `n_envs` Monitor-wrapped copies (true returns are logged)."""
    from stable_baselines3.common.env_util import make_vec_env as sb3_make_vec_env

    factory = env if callable(env) else (lambda: make_env(env))
    return sb3_make_vec_env(factory, n_envs=n_envs, seed=seed)


def build_learner(
    algo: str,
    venv: Any,
    seed: int = 0,
    device: str = "cpu",
    reward_relabel: RelabelFn | None = None,
    **overrides: Any,
) -> Any:
    """An SB3 model for `venv` with protege's tuned defaults (LEARNER_DEFAULTS).

    reward_relabel: for SAC/DQN, recomputes the rewards of every replayed batch with the
        current learned reward (discriminator-actor-critic, Kostrikov et al. 2019).
    """
    cls = check_learner(algo, venv.action_space)
    kwargs = {**LEARNER_DEFAULTS[algo], **overrides}
    if algo != "ppo":
        kwargs.setdefault("learning_starts", 1000)
        if reward_relabel is not None:
            from gymnasium.spaces import Dict

            dict_obs = isinstance(venv.observation_space, Dict)
            kwargs["replay_buffer_class"] = (
                RelabelingDictReplayBuffer if dict_obs else RelabelingReplayBuffer
            )
            kwargs["replay_buffer_kwargs"] = {"relabel": reward_relabel}
    policy = "MultiInputPolicy" if hasattr(venv.observation_space, "spaces") else "MlpPolicy"
    check_learner_kwargs(algo, overrides)
    try:
        return cls(policy, venv, seed=seed, device=device, verbose=0, **kwargs)
    except (TypeError, ValueError, AssertionError) as exc:  # SB3 checks values as it builds
        raise ConfigError(f"learner_kwargs for {algo}: {exc}") from None


_NOT_SETTINGS = {"self", "policy", "env", "seed", "device", "verbose", "_init_setup_model"}


def check_learner_kwargs(algo: str, kwargs: dict[str, Any]) -> None:
    """Refuse SB3 settings `algo` does not take, naming the ones it does."""
    import inspect

    known = set(inspect.signature(sb3_class(algo).__init__).parameters) - _NOT_SETTINGS
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise ConfigError(
            f"learner_kwargs: {algo} has no setting {', '.join(unknown)}; it takes "
            f"{', '.join(sorted(known))}"
        )


RelabelFn = Callable[[Any], Any]
"""(ReplayBufferSamples) -> rewards tensor (B, 1): the current learned reward of a batch."""


def _relabelled(samples: Any, relabel: RelabelFn | None) -> Any:
    if relabel is None:
        return samples
    return samples._replace(rewards=relabel(samples).reshape(-1, 1).detach())


def _replay_buffers() -> tuple[type, type]:
    from stable_baselines3.common.buffers import DictReplayBuffer, ReplayBuffer

    class _Relabeling(ReplayBuffer):
        """A replay buffer whose sampled rewards come from the current learned reward."""

        def __init__(self, *args: Any, relabel: RelabelFn | None = None, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.relabel = relabel

        def _get_samples(self, batch_inds: Any, env: Any = None) -> Any:
            return _relabelled(super()._get_samples(batch_inds, env), self.relabel)

    class _RelabelingDict(DictReplayBuffer):
        """The Dict-observation form of the relabelling replay buffer."""

        def __init__(self, *args: Any, relabel: RelabelFn | None = None, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.relabel = relabel

        def _get_samples(self, batch_inds: Any, env: Any = None) -> Any:
            return _relabelled(super()._get_samples(batch_inds, env), self.relabel)

    return _Relabeling, _RelabelingDict


RelabelingReplayBuffer, RelabelingDictReplayBuffer = _replay_buffers()


def train_on_reward(
    env_id: str,
    reward_fn: Any,
    algo: str = "ppo",
    steps: int = 100_000,
    seed: int = 0,
    n_envs: int = 8,
    device: str = "cpu",
    callback: Any = None,
    **overrides: Any,
) -> Any:
    """Train a fresh SB3 model on `reward_fn(obs, acts, next_obs, dones)` instead of the env's
    reward (reward transfer). The true reward stays in info["true_reward"]."""
    from protege.rewards import RewardVecEnvWrapper

    if steps < 1:
        raise ConfigError("--steps must be at least 1")
    venv = RewardVecEnvWrapper(
        make_vec_env(env_id, n_envs if algo == "ppo" else 1, seed), reward_fn
    )
    model = build_learner(algo, venv, seed, device, **overrides)
    model.learn(total_timesteps=steps, callback=callback)
    return model


def learner_log_prob(model: Any, obs: Any, acts: Any) -> Any:
    """log π(a|s) of the SB3 model's policy for tensor batches (zeros for DQN: no density).

    acts are in the env's units; SAC's squashed Gaussian is evaluated on rescaled actions.
    """
    import torch
    from stable_baselines3 import DQN, PPO, SAC

    if isinstance(model, PPO):
        _, log_prob, _ = model.policy.evaluate_actions(obs, acts)
        return log_prob
    if isinstance(model, SAC):
        scaled = torch.as_tensor(model.policy.scale_action(acts.cpu().numpy()), device=acts.device)
        scaled = scaled.clamp(-1 + 1e-4, 1 - 1e-4)
        mean, log_std, kwargs = model.actor.get_action_dist_params(obs)
        dist = model.actor.action_dist.proba_distribution(mean, log_std, **kwargs)
        return dist.log_prob(scaled)
    if isinstance(model, DQN):
        return torch.zeros(len(acts), device=acts.device)
    raise ConfigError(f"no log-probability for learner {type(model).__name__}")


# -- past SB3's public API: checkpoints, episodes, rounds ----------------------------------

_COUNTERS = ("num_timesteps", "_n_updates", "_episode_num", "_n_calls")  # _n_calls: DQN's
_BUFFER_FIELDS = ("observations", "next_observations", "actions", "rewards", "dones", "timeouts")


def learner_state(model: Any) -> dict[str, Any]:
    """What an SB3 learner needs to go on training: weights and optimisers (SB3's own
    `get_parameters`), SAC's entropy coefficient, counters, recent episodes and, off-policy,
    the filled part of the replay buffer, for `save_checkpoint`."""
    from stable_baselines3.common.save_util import recursive_getattr

    state: dict[str, Any] = {
        "parameters": model.get_parameters(),
        "variables": {
            name: recursive_getattr(model, name).detach().cpu().clone()
            for name in model._get_torch_save_params()[1]
        },
        "counters": {k: int(getattr(model, k)) for k in _COUNTERS if hasattr(model, k)},
        "episodes": [{k: float(v) for k, v in e.items()} for e in model.ep_info_buffer or ()],
    }
    buffer = getattr(model, "replay_buffer", None)
    if buffer is not None:
        n = buffer.buffer_size if buffer.full else buffer.pos
        state["replay_buffer"] = {
            "pos": int(buffer.pos), "full": bool(buffer.full),
            "arrays": {name: _rows(getattr(buffer, name), n) for name in _BUFFER_FIELDS
                       if getattr(buffer, name, None) is not None},
        }  # fmt: skip
    return state


def restore_learner_state(model: Any, state: dict[str, Any]) -> None:
    """Restore what `learner_state` returned into a learner built with the same settings."""
    import torch
    from stable_baselines3.common.save_util import recursive_getattr

    model.set_parameters(state["parameters"], exact_match=True, device=model.device)
    with torch.no_grad():
        for name, value in state["variables"].items():
            recursive_getattr(model, name).copy_(value)  # in place: optimisers hold it
    for name, value in state["counters"].items():
        setattr(model, name, int(value))
    window = model._stats_window_size
    model.ep_info_buffer = deque((dict(e) for e in state["episodes"]), maxlen=window)
    model.ep_success_buffer = deque(maxlen=window)
    saved = state.get("replay_buffer")
    if saved is not None:
        buffer = model.replay_buffer
        for name, rows in saved["arrays"].items():
            _fill(getattr(buffer, name), rows)
        buffer.pos, buffer.full = int(saved["pos"]), bool(saved["full"])


def _rows(x: Any, n: int) -> Any:
    """The first `n` rows of an array (or of each array in a dict)."""
    if isinstance(x, dict):
        return {k: _rows(v, n) for k, v in x.items()}
    return x[:n]


def _fill(buf: Any, saved: Any) -> None:
    """Copy saved rows (tensors, as a checkpoint gives them back) into the start of a
    preallocated array (or dict of them)."""
    if isinstance(buf, dict):
        for k in buf:
            _fill(buf[k], saved[k])
    else:
        buf[: len(saved)] = saved.numpy()


def recent_returns(model: Any, n: int = 20) -> list[float]:
    """The true returns of the learner's latest `n` finished episodes (Monitor's), oldest
    first; empty before the first one ends."""
    return [info["r"] for info in list(model.ep_info_buffer)[-n:]]


def round_callback(
    on_round: Callable[[int], dict[str, float]],
    report: Callable[[dict[str, float]], bool],
    every: int,
    last: int = 0,
) -> Any:
    """An SB3 callback: `on_round(env_steps)` at a rollout's end (at most every `every`
    steps, before the learner trains on it), then `report(row)` once the learner has
    trained, at the next rollout's start or at the end; training stops when it is False.
    last: the env step of the latest round (a resumed run's)."""
    from stable_baselines3.common.callbacks import BaseCallback

    class _Rounds(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.last, self.go_on = last, True
            self.pending: dict[str, float] | None = None

        def _on_step(self) -> bool:
            return self.go_on

        def _on_rollout_end(self) -> None:
            if self.num_timesteps - self.last >= every:
                self.last = self.num_timesteps
                self.pending = on_round(self.num_timesteps)

        def _on_rollout_start(self) -> None:
            if self.pending is not None:
                self.go_on = report(self.pending)
                self.pending = None

        def _on_training_end(self) -> None:
            self._on_rollout_start()

    return _Rounds()
