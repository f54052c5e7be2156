"""`--set key=value` overrides: typed, checked, with messages that name the fix."""

from __future__ import annotations

import dataclasses

import pytest

from protege.algorithms.bc import BCConfig
from protege.config import apply_overrides, config_from_dict
from protege.errors import ConfigError


def test_overrides_are_typed() -> None:
    cfg = apply_overrides(BCConfig(), ["epochs=7", "lr=0.01", "hidden=64,32", "device=cpu"])
    assert (cfg.epochs, cfg.lr, cfg.hidden, cfg.device) == (7, 0.01, (64, 32), "cpu")
    for written in ("[256,256]", "[256, 256]", "(256, 256)"):  # as YAML, JSON, Python
        assert apply_overrides(BCConfig(), [f"hidden={written}"]).hidden == (256, 256)


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("epoch=3", "unknown setting"),
        ("epochs=many", "not a valid int"),
        ("epochs", "expected key=value"),
        ("val_fraction=1.5", "val_fraction"),
        ("continuous_loss=l1", "continuous_loss"),
    ],
)
def test_bad_overrides_raise_config_error(item: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        apply_overrides(BCConfig(), [item])


def test_config_round_trips_through_json_form() -> None:
    cfg = BCConfig(hidden=(8, 8), epochs=3)
    as_json = {
        k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(cfg).items()
    }
    assert config_from_dict(BCConfig, as_json) == cfg


def test_dotted_keys_set_entries_of_a_dict_setting() -> None:
    from protege.algorithms.adversarial import GAILConfig

    cfg = apply_overrides(GAILConfig(), [
        "learner_kwargs.learning_rate=3e-4", "learner_kwargs.policy_kwargs={\"net_arch\": [32]}",
        "learner_kwargs.learning_rate=1e-4", "learner_kwargs.tensorboard_log=runs/tb",
    ])  # fmt: skip
    assert cfg.learner_kwargs == {"learning_rate": 1e-4, "policy_kwargs": {"net_arch": [32]},
                                  "tensorboard_log": "runs/tb"}  # fmt: skip
    assert GAILConfig().learner_kwargs == {}  # the default is not mutated
    with pytest.raises(ConfigError, match="'steps' has no settings inside it"):
        apply_overrides(GAILConfig(), ["steps.x=1"])
    with pytest.raises(ConfigError, match="ppo has no setting activation"):
        apply_overrides(GAILConfig(), ["learner_kwargs.activation=tanh"])


def test_a_config_made_in_python_checks_its_own_settings() -> None:
    """The check lives in each config's __post_init__: the Python API cannot bypass it."""
    import pytest

    from protege.algorithms.adversarial import GAILConfig
    from protege.algorithms.bc import BCConfig
    from protege.algorithms.tabular.maxent import MaxEntConfig
    from protege.errors import ConfigError

    for make, says in ((lambda: BCConfig(lr=-1.0), "lr=-1.0: must be greater than 0"),
                       (lambda: BCConfig(hidden=(64, 0)), "every layer width"),
                       (lambda: GAILConfig(disc_lr=0.0), "disc_lr=0.0"),
                       (lambda: MaxEntConfig(l2=-1.0), "l2=-1.0")):  # fmt: skip
        with pytest.raises(ConfigError, match=says):
            make()
