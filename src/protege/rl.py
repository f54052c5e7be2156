"""The inner reinforcement-learning loop: a thin adapter over Stable-Baselines3."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from protege.envs import make_env
from protege.errors import ConfigError

ALGOS = ("ppo", "sac", "dqn")


def sb3_class(algo: str) -> Any:
    """The SB3 algorithm class for 'ppo', 'sac' or 'dqn'."""
    from stable_baselines3 import DQN, PPO, SAC

    classes = {"ppo": PPO, "sac": SAC, "dqn": DQN}
    if algo not in classes:
        raise ConfigError(f"--algo {algo}: unknown; choose one of {', '.join(ALGOS)}")
    return classes[algo]


def train_sb3(
    env_id: str,
    algo: str = "ppo",
    steps: int = 100_000,
    seed: int = 0,
    n_envs: int = 4,
    device: str = "auto",
    callback: Any = None,
    **algo_kwargs: Any,
) -> Any:
    """Train an SB3 model on the env's own reward, e.g. to make an expert where no scripted
    one exists. Returns the model; `model.save(path)` writes the usual SB3 .zip."""
    from gymnasium.spaces import Box, Discrete
    from stable_baselines3.common.env_util import make_vec_env

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
    model = cls("MlpPolicy", venv, seed=seed, device=device, verbose=0, **algo_kwargs)
    model.learn(total_timesteps=steps, callback=callback)
    return model


def save_sb3(model: Any, out: str | Path) -> Path:
    """Save an SB3 model to `out` (a .zip), written to a temporary name first."""
    out = Path(out)
    if out.suffix != ".zip":
        raise ConfigError(f"--out {out}: SB3 models are saved as .zip files")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.stem + ".partial.zip")
    model.save(tmp)
    tmp.replace(out)
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
