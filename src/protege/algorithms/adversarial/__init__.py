"""Model-free inverse RL and adversarial imitation: GAIL, AIRL and guided cost learning.

Each trains an SB3 learner (PPO, SAC or DQN) on a learned reward through one shared loop
(`loop.train_adversarial`) and returns the learner, the reward and the history.
"""

from protege.algorithms.adversarial.airl import AIRLConfig, airl_loss, train_airl
from protege.algorithms.adversarial.config import AdversarialConfig
from protege.algorithms.adversarial.discriminator import Discriminator, DiscriminatorBatch
from protege.algorithms.adversarial.gail import GAILConfig, gail_loss, train_gail
from protege.algorithms.adversarial.gcl import GCLConfig, gcl_loss, train_gcl
from protege.algorithms.adversarial.loop import AdversarialResult, train_adversarial

__all__ = [
    "AIRLConfig",
    "AdversarialConfig",
    "AdversarialResult",
    "Discriminator",
    "DiscriminatorBatch",
    "airl_loss",
    "GAILConfig",
    "GCLConfig",
    "gail_loss",
    "gcl_loss",
    "train_adversarial",
    "train_airl",
    "train_gail",
    "train_gcl",
]
