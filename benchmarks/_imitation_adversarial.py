"""imitation 1.0.1's GAIL / AIRL on protege's demonstrations (run inside its own venv).

`benchmarks/adversarial.py` runs this script with the python of `_imitation_env.py`'s venv
(imitation pins Gymnasium 0.29, so it cannot import protege), as

    python _imitation_adversarial.py job.json

job.json: algo ("gail" | "airl"), env_id, demos (an .npz of plain arrays: obs, acts,
lengths, terminated, the episodes concatenated, each with its final observation), steps
(the env-step budget), seed, target (a mean return), check_seed / check_episodes (the
episodes judged after every round), eval_seed / eval_episodes (the final return), result
(where the JSON answer goes).

Settings are imitation's own documented ones: its GAIL and AIRL CartPole tutorials
(docs/tutorials/3_train_gail.ipynb, 4_train_airl.ipynb: SB3 PPO on 8 envs,
`BasicRewardNet` / `BasicShapedRewardNet` with `RunningNorm` inputs) and, for Pendulum-v1,
which imitation documents no adversarial setting for, rl-baselines3-zoo's tuned PPO
(4 envs, n_steps 1024, gSDE) under the GAIL tutorial's discriminator. Training runs one
imitation round at a time (n_envs x n_steps env steps, then the discriminator updates) with
a deterministic evaluation after each; it stops at the target or at the budget. The
seconds are `trainer.train` calls only (evaluations and setup excluded).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import warnings

os.environ.setdefault("TQDM_DISABLE", "1")  # imitation's per-round progress bar
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _imitation_common import evaluate, load_demos  # noqa: E402  (beside this file)

CARTPOLE_DISC = {"demo_batch_size": 1024, "gen_replay_buffer_capacity": 512,
                 "n_disc_updates_per_round": 8}  # fmt: skip
SETTINGS = {  # (algo, env_id) -> (n_envs, PPO kwargs, trainer kwargs)
    ("gail", "CartPole-v1"): (
        8,
        {"batch_size": 64, "ent_coef": 0.0, "learning_rate": 4e-4, "gamma": 0.95,
         "n_epochs": 5},
        CARTPOLE_DISC,
    ),
    ("airl", "CartPole-v1"): (
        8,
        {"batch_size": 64, "ent_coef": 0.0, "learning_rate": 5e-4, "gamma": 0.95,
         "clip_range": 0.1, "vf_coef": 0.1, "n_epochs": 5},
        {"demo_batch_size": 2048, "gen_replay_buffer_capacity": 512,
         "n_disc_updates_per_round": 16},
    ),
    ("gail", "Pendulum-v1"): (
        4,
        {"n_steps": 1024, "gae_lambda": 0.95, "gamma": 0.9, "n_epochs": 10, "ent_coef": 0.0,
         "learning_rate": 1e-3, "clip_range": 0.2, "use_sde": True, "sde_sample_freq": 4},
        CARTPOLE_DISC,
    ),
}  # fmt: skip


def main(job: dict) -> dict:
    from imitation.algorithms.adversarial.airl import AIRL
    from imitation.algorithms.adversarial.gail import GAIL
    from imitation.rewards.reward_nets import BasicRewardNet, BasicShapedRewardNet
    from imitation.util import logger
    from imitation.util.networks import RunningNorm
    from imitation.util.util import make_vec_env
    from stable_baselines3 import PPO

    torch.set_num_threads(1)
    torch.manual_seed(job["seed"])
    algo, env_id, seed = job["algo"], job["env_id"], job["seed"]
    n_envs, ppo_kwargs, trainer_kwargs = SETTINGS[(algo, env_id)]
    venv = make_vec_env(env_id, rng=np.random.default_rng(seed), n_envs=n_envs)
    learner = PPO("MlpPolicy", venv, seed=seed, device="cpu", verbose=0, **ppo_kwargs)
    gail = algo == "gail"
    reward_net = (BasicRewardNet if gail else BasicShapedRewardNet)(
        venv.observation_space, venv.action_space, normalize_input_layer=RunningNorm
    )
    tmp = tempfile.mkdtemp(prefix="imitation-adversarial-")
    trainer = (GAIL if gail else AIRL)(
        demonstrations=load_demos(job["demos"]), venv=venv, gen_algo=learner,
        reward_net=reward_net, allow_variable_horizon=True,  # CartPole episodes vary
        log_dir=tmp, custom_logger=logger.configure(tmp, format_strs=[]), **trainer_kwargs,
    )  # fmt: skip
    round_steps = trainer.gen_train_timesteps
    result: dict = {"round_steps": round_steps, "curve": [], "settings": {
        "n_envs": n_envs, "ppo": ppo_kwargs, "trainer": trainer_kwargs}}  # fmt: skip
    train_s = 0.0
    while learner.num_timesteps + round_steps <= job["steps"]:
        start = time.perf_counter()
        trainer.train(round_steps)  # one round: generator rollouts + discriminator updates
        train_s += time.perf_counter() - start
        steps = int(learner.num_timesteps)
        mean = float(evaluate(learner, env_id, job["check_episodes"], job["check_seed"]).mean())
        result["curve"].append({"env_steps": steps, "seconds": train_s, "eval_return": mean})
        if mean >= job["target"]:
            result["steps_to_target"], result["seconds_to_target"] = steps, train_s
            break
    final = evaluate(learner, env_id, job["eval_episodes"], job["eval_seed"])
    result.update(env_steps=int(learner.num_timesteps), train_seconds=train_s,
                  final_return=float(final.mean()), final_std=float(final.std(ddof=1)))  # fmt: skip
    return result


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        job = json.load(f)
    with open(job["result"], "w") as f:
        json.dump(main(job), f)
