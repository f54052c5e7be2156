"""Non-adversarial imitation by soft Q-learning: IQ-Learn and SQIL, online or offline."""

from protege.algorithms.qlearning.iq_learn import (
    IQLearnConfig,
    IQLearnResult,
    absorbing_value,
    iq_loss,
    train_iq_learn,
)
from protege.algorithms.qlearning.reward import SoftQReward
from protege.algorithms.qlearning.sqil import SQILConfig, SQILResult, sqil_loss, train_sqil

__all__ = [
    "IQLearnConfig",
    "IQLearnResult",
    "SQILConfig",
    "SQILResult",
    "SoftQReward",
    "absorbing_value",
    "iq_loss",
    "sqil_loss",
    "train_iq_learn",
    "train_sqil",
]
