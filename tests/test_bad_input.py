"""Property-based bad input (Hypothesis): corrupted, truncated, mistyped, mis-shaped and
NaN-laden datasets (their episode metadata, preferences and rankings too), random `--set`
values, unknown envs and broken run files.

Every case must end in one `ProtegeError` (the CLI's one line and exit code 2) or load as
valid data; never another exception, and the input file is never modified. The number of
cases each property tries is `EXAMPLES`; the README's reliability section quotes the total.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from helpers import run as cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protege.algorithms.bc import BCConfig
from protege.algorithms.dagger import DAggerConfig
from protege.config import apply_overrides
from protege.data import load_trajectories, rollout, save_trajectories, synthetic_preferences
from protege.envs import env_spaces
from protege.errors import ProtegeError
from protege.experts.scripted import scripted_expert

EXAMPLES = 150
FIELDS = ("obs", "acts", "rews", "lengths", "terminated", "truncated", "meta", "episode_meta",
          "pref_segments", "pref_labels", "ranking")  # fmt: skip
tried: dict[str, int] = {}


def digest(path: Path) -> str:
    if path.is_dir():
        return hashlib.sha256(
            b"".join(p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file())
        ).hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def refused_or_valid(path: Path, env_id: str = "CartPole-v1") -> str | None:
    """Load `path`; a refusal must be one ProtegeError line naming the file. Returns it
    (None when the file loaded)."""
    before = digest(path)
    try:
        load_trajectories(path, env_id=env_id)
        message = None
    except ProtegeError as exc:
        message = str(exc)
        assert path.name in message and "\n" not in message, message
    assert digest(path) == before  # loading never writes
    return message


def same_data(a: Path, b: Path) -> bool:
    """Both files hold the same episodes."""
    ta, tb = load_trajectories(a).trajectories, load_trajectories(b).trajectories
    return len(ta) == len(tb) and all(
        np.array_equal(x.obs, y.obs) and np.array_equal(x.acts, y.acts)
        and np.array_equal(x.rews, y.rews) for x, y in zip(ta, tb, strict=True)
    )  # fmt: skip


@pytest.fixture(scope="module")
def valid_npz(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("valid") / "demos.npz"
    trajs = rollout("CartPole-v1", scripted_expert("CartPole-v1").act, 2, seed=0)
    trajs = [replace(t, meta={"noise": 0.0, "return": t.episode_return}) for t in trajs]
    prefs = synthetic_preferences(trajs, 3, 10, seed=0)
    save_trajectories(path, trajs, "CartPole-v1", env_spaces("CartPole-v1"), preferences=prefs,
                      ranking=[1, 0])  # fmt: skip
    return path.read_bytes()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("cases")


def corrupt(arrays: dict[str, np.ndarray], data: st.DataObject) -> None:
    """One random corruption of one field of a protege .npz."""
    field = data.draw(st.sampled_from(FIELDS), label="field")
    kind = data.draw(
        st.sampled_from(["drop", "nan", "inf", "extra axis", "cut rows", "strings", "random",
                         "huge", "negative", "empty"]),
        label="kind",
    )  # fmt: skip
    a = arrays[field]
    if kind == "drop":
        del arrays[field]
    elif kind in ("nan", "inf", "huge", "negative") and a.size:
        value = {"nan": np.nan, "inf": np.inf, "huge": 1e300, "negative": -7}[kind]
        b = a.astype(np.float64) if a.dtype.kind in "iub" else a.copy()
        if b.dtype.kind == "f":
            b.flat[data.draw(st.integers(0, b.size - 1), label="index")] = value
        arrays[field] = b
    elif kind == "extra axis":
        arrays[field] = a[..., None]
    elif kind == "cut rows" and a.ndim:
        arrays[field] = a[: data.draw(st.integers(0, max(len(a) - 1, 0)), label="rows")]
    elif kind == "strings":
        arrays[field] = a.astype(str)
    elif kind == "random":
        shape = data.draw(st.lists(st.integers(0, 5), max_size=3), label="shape")
        arrays[field] = np.asarray(
            data.draw(st.lists(st.integers(-3, 3), min_size=int(np.prod(shape)),
                               max_size=int(np.prod(shape))), label="values"),
            dtype=np.int64,
        ).reshape(shape)  # fmt: skip
    elif kind == "empty":
        arrays[field] = a[:0] if a.ndim else np.array([])


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(data=st.data())
def corrupted_npz_field(valid_npz: bytes, workdir: Path, data: st.DataObject) -> None:
    with np.load(io.BytesIO(valid_npz)) as z:
        arrays = dict(z)
    corrupt(arrays, data)
    path = workdir / "corrupt.npz"
    with path.open("wb") as f:
        np.savez(f, **arrays)
    refused_or_valid(path)
    tried["npz fields"] = tried.get("npz fields", 0) + 1


def test_corrupted_npz_fields_are_refused_in_one_line(valid_npz: bytes, workdir: Path) -> None:
    before = tried.get("npz fields", 0)
    corrupted_npz_field(valid_npz, workdir)
    # Hypothesis ran its cases (not all filtered out), counted in this process whichever
    # pytest-xdist worker runs the other tests of this module
    assert tried["npz fields"] - before >= EXAMPLES // 2


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(cut=st.floats(0.0, 1.0), flips=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)),
                                                 max_size=4))  # fmt: skip
def test_truncated_and_bit_flipped_files_are_refused(
    valid_npz: bytes, workdir: Path, cut: float, flips: list[tuple[float, int]]
) -> None:
    raw = bytearray(valid_npz[: int(len(valid_npz) * cut)])
    for where, byte in flips:
        if raw:
            raw[min(int(where * len(raw)), len(raw) - 1)] = byte
    path, original = workdir / "damaged.npz", workdir / "original.npz"
    path.write_bytes(bytes(raw))
    original.write_bytes(valid_npz)
    # a damaged file is refused, or (a flipped byte outside the data) loads the same episodes
    assert refused_or_valid(path) is not None or same_data(path, original)
    tried["npz bytes"] = tried.get("npz bytes", 0) + 1


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 40) | st.floats() | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["a", "b", "label", "noise", "rating", "x"]), inner,
                      max_size=3),
    max_leaves=8,
)  # fmt: skip
NEAR_PREFERENCES = st.lists(
    st.fixed_dictionaries({
        "a": st.lists(st.integers(-1, 40), min_size=2, max_size=4),
        "b": st.lists(st.integers(-1, 40), min_size=3, max_size=3),
        "label": st.floats(-0.5, 1.5) | st.sampled_from([0, 1, True]),
    }),
    max_size=3,
)  # fmt: skip


@pytest.fixture(scope="module")
def small_trajs() -> list:
    return rollout("CartPole-v1", scripted_expert("CartPole-v1").act, 2, seed=0, max_steps=30)


@settings(max_examples=EXAMPLES // 3, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    meta=st.dictionaries(st.sampled_from(["noise", "return", "rating"]) | st.text(max_size=4),
                         JSON, max_size=3),
    name=st.sampled_from(["meta.npz", "meta"]),
)  # fmt: skip
def test_generated_episode_metadata_is_saved_exactly_or_refused(
    small_trajs: list, workdir: Path, meta: dict, name: str
) -> None:
    """Whatever `Trajectory.meta` holds: it is stored and loads back equal, or the save is
    one line naming the field, and nothing is written."""
    import shutil

    path = workdir / name
    shutil.rmtree(path, ignore_errors=True)
    path.unlink(missing_ok=True)
    trajs = [small_trajs[0], replace(small_trajs[1], meta=meta)]
    try:
        save_trajectories(path, trajs, "CartPole-v1")
    except ProtegeError as exc:
        assert "\n" not in str(exc) and "episode_meta" in str(exc), str(exc)
        assert not path.exists()
    else:
        assert dict(load_trajectories(path).trajectories[1].meta) == meta
    tried["episode meta"] = tried.get("episode meta", 0) + 1


@pytest.fixture(scope="module")
def minari_block(small_trajs: list, workdir: Path) -> tuple[Path, dict]:
    path = save_trajectories(workdir / "extras", small_trajs, "CartPole-v1")
    return path, json.loads((path / "data" / "metadata.json").read_text())


@settings(max_examples=EXAMPLES // 3, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    key=st.sampled_from(["episode_meta", "preferences", "ranking"]),
    value=JSON | NEAR_PREFERENCES | st.lists(st.integers(-1, 3), max_size=3),
)
def test_generated_minari_extras_are_refused_in_one_line_or_load(
    minari_block: tuple[Path, dict], key: str, value: object
) -> None:
    """A Minari dataset whose `protege` block holds generated metadata, preferences or
    rankings: one line naming the entry, or it loads (and then holds what it says)."""
    path, metadata = minari_block
    block = {**metadata["protege"], key: value}
    (path / "data" / "metadata.json").write_text(json.dumps({**metadata, "protege": block}))
    message = refused_or_valid(path)
    if message is not None:
        assert f"protege.{key}" in message, message
    tried["minari extras"] = tried.get("minari extras", 0) + 1


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None)
@given(
    key=st.sampled_from([*BCConfig.__dataclass_fields__, "nope", "bc.epochs", ""]),
    value=st.text(max_size=12),
)
def set_value(key: str, value: str) -> None:
    try:
        apply_overrides(BCConfig(), [f"{key}={value}"])
    except ProtegeError as exc:
        assert "\n" not in str(exc)
    try:
        apply_overrides(DAggerConfig(), [f"{key}={value}", f"bc.{key}={value}"])
    except ProtegeError as exc:
        assert "\n" not in str(exc)
    tried["--set"] = tried.get("--set", 0) + 1


def test_set_values_are_applied_or_refused_with_a_config_error() -> None:
    before = tried.get("--set", 0)
    set_value()
    assert tried["--set"] - before >= EXAMPLES // 2


def _setting_names(cfg: object, prefix: str = "") -> list[str]:
    """Every settable name of a config, nested configs' as `bc.epochs`."""
    import dataclasses

    names = []
    for f in dataclasses.fields(cfg):  # type: ignore[arg-type]
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            names += _setting_names(value, f"{prefix}{f.name}.")
        else:
            names.append(prefix + f.name)
    return names


VALUES = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["-1", "0", "1e9", "nan", "inf", "-inf", "none", "true", "64,0", "0.5",
                     "-0.5", "", "cuda", "cpu", "gpu", "ppo", "dqn", "1.5", "2"]),
    st.integers(-5, 10**6).map(str),
    st.floats().map(str),
)  # fmt: skip


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None)
@given(data=st.data())
def test_every_algorithms_settings_are_applied_in_range_or_refused(data: st.DataObject) -> None:
    """For every catalog algorithm, a generated `--set` is refused in one line, or gives a
    config whose every setting is of its type and in its range (nothing bad slips through)."""
    from protege.config import check_fields
    from protege.jobs import catalog

    name = data.draw(st.sampled_from(sorted(catalog.ALGORITHMS)), label="algorithm")
    cfg = catalog.get(name).default_config()
    key = data.draw(st.sampled_from([*_setting_names(cfg), "nope"]), label="key")
    value = data.draw(VALUES, label="value")
    try:
        new = apply_overrides(cfg, [f"{key}={value}"])
    except ProtegeError as exc:
        assert "\n" not in str(exc)
    else:
        check_fields(new)
    tried["--set (catalog)"] = tried.get("--set (catalog)", 0) + 1


@settings(max_examples=EXAMPLES // 3, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(env=st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), min_size=1,
                   max_size=20).filter(lambda s: not s.startswith("-")))  # fmt: skip
def test_unknown_envs_are_one_line_and_exit_2(workdir: Path, capsys, env: str) -> None:  # noqa: ANN001
    import gymnasium
    from hypothesis import assume

    from protege.envs import is_tabular_spec

    # Hypothesis also draws string constants of the code it runs: a real id (LunarLander-v3)
    # is not an unknown env
    assume(env not in gymnasium.registry and not is_tabular_spec(env))
    out = workdir / "never.npz"
    capsys.readouterr()
    assert cli("collect", env, "--episodes", "1", "--out", str(out)) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()
    tried["unknown env"] = tried.get("unknown env", 0) + 1


@settings(max_examples=EXAMPLES // 3, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(text=st.one_of(
    st.text(max_size=40), st.just("{}"), st.just('{"algo": "bc"}'),
    st.builds(json.dumps, st.dictionaries(st.text(max_size=5), st.integers())),
))  # fmt: skip
def test_broken_run_files_are_one_line_and_exit_2(workdir: Path, capsys, text: str) -> None:  # noqa: ANN001
    run = workdir / "run"
    run.mkdir(exist_ok=True)
    (run / "config.json").write_text(text)
    before = digest(run)
    capsys.readouterr()
    assert cli("eval", str(run)) == 2
    assert cli("train", "--config", str(run), "--out", str(workdir / "rerun")) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 2, err
    assert digest(run) == before and not (workdir / "rerun").exists()
    tried["run files"] = tried.get("run files", 0) + 1


ACTIONS = st.one_of(
    st.integers(-3, 9), st.floats(allow_nan=True, allow_infinity=True), st.none(),
    st.text(max_size=3), st.lists(st.floats(-3, 3), max_size=4),
    st.lists(st.lists(st.integers(0, 2), max_size=2), max_size=2),
)  # fmt: skip


@settings(max_examples=EXAMPLES // 3, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(env=st.sampled_from(["CartPole-v1", "Pendulum-v1"]), action=ACTIONS)
def test_experts_returning_any_action_record_or_are_one_line(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, env: str, action: object
) -> None:
    """A `module:function` expert returning whatever it likes: the dataset is recorded (a
    valid action) or the collect ends in one ProtegeError line and writes nothing."""
    import sys
    import types

    from protege.jobs.common import collect

    module = types.ModuleType("_hypothesis_expert")
    module.act = lambda obs: action  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "_hypothesis_expert", module)
    out = workdir / "expert.npz"
    out.unlink(missing_ok=True)
    try:
        collect(env, "_hypothesis_expert:act", 1, out)
    except ProtegeError as exc:
        assert "\n" not in str(exc) and not out.exists(), str(exc)
    else:
        load_trajectories(out, env_id=env)
    tried["expert actions"] = tried.get("expert actions", 0) + 1


JSON_VALUES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5),
                        st.lists(st.integers(), max_size=2))  # fmt: skip


@pytest.fixture(scope="module")
def finished_run(workdir: Path) -> Path:
    demos = workdir / "run-demos.npz"
    assert cli("collect", "CartPole-v1", "--episodes", "2", "--out", str(demos)) == 0
    out = workdir / "finished"
    assert cli("train", "bc", "--env", "CartPole-v1", "--demos", str(demos), "--out", str(out),
               "--set", "epochs=2", "--eval-episodes", "1") == 0  # fmt: skip
    return out


@settings(max_examples=EXAMPLES // 6, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    metrics=st.dictionaries(st.sampled_from(["return_mean", "normalized_score", "episodes",
                                             "return_std", "other"]), JSON_VALUES, max_size=3),
    progress=st.one_of(st.none(), st.text(max_size=60),
                       st.lists(st.lists(st.sampled_from(["1", "x", "", "nan", "2.5"]),
                                         min_size=1, max_size=4), max_size=4)),
)  # fmt: skip
def test_damaged_metrics_and_progress_are_reported_or_one_line(
    finished_run: Path,
    workdir: Path,
    capsys,
    metrics: dict,
    progress: object,  # noqa: ANN001
) -> None:
    """`protege report` on generated metrics.json and progress.csv contents: a page, or one
    line with exit 2 and no page written."""
    import shutil

    run = workdir / "damaged"
    shutil.rmtree(run, ignore_errors=True)
    shutil.copytree(finished_run, run)
    saved = json.loads((run / "metrics.json").read_text())
    (run / "metrics.json").write_text(json.dumps({**saved, **metrics}))
    if isinstance(progress, str):
        (run / "progress.csv").write_text(progress)
    elif isinstance(progress, list):
        header = (run / "progress.csv").read_text().splitlines()[0]
        rows = [header, *(",".join(r) for r in progress)]
        (run / "progress.csv").write_text("\n".join(rows) + "\n")
    page = workdir / "page.html"
    page.unlink(missing_ok=True)
    capsys.readouterr()
    code = cli("report", str(run), "--out", str(page))
    err = capsys.readouterr().err
    assert code in (0, 2) and "Traceback" not in err, err
    if code == 2:
        assert len(err.strip().splitlines()) == 1 and not page.exists(), err
    tried["run file contents"] = tried.get("run file contents", 0) + 1
