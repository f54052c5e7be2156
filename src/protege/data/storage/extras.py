"""What a dataset keeps beside its steps: each episode's metadata, preferences, a ranking.

Both formats hold the same three things, checked by the same functions on save and on load:

- `episode_meta`: one JSON object of scalars per episode (`Trajectory.meta`: "noise",
  "return", "rating", ...);
- `preferences`: segment pairs and their labels (`protege.data.preferences.Preference`);
- `ranking`: a ranking of episodes given with the dataset, best first.

In a .npz file: `episode_meta` a JSON string, `pref_segments` (P, 2, 3) integers (episode,
start, stop of segments a and b), `pref_labels` (P,) floats, `ranking` (K,) integers; in a
Minari dataset: the same as JSON lists in the `protege` block of metadata.json. Each is
optional: a file written before they existed (format version 1) loads with none.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from protege.data.preferences import Preference, Segment, ranking_problem, segment_problem
from protege.data.types import Trajectory
from protege.data.validate import INCONSISTENT_FIX, Context

EPISODE_META = "episode_meta"
PREF_SEGMENTS = "pref_segments"
PREF_LABELS = "pref_labels"
PREFERENCES = "preferences"  # Minari: one list of {"a", "b", "label"} objects
RANKING = "ranking"
NPZ_EXTRA_FIELDS = (EPISODE_META, PREF_SEGMENTS, PREF_LABELS, RANKING)

NUMERIC_META = ("noise", "return", "rating")
"""Meta keys protege reads (rankings): each a number when present; 'noise' in [0, 1]."""

SAVE_FIX = (
    "keep Trajectory.meta to JSON scalars (numbers, strings, booleans, null): 'noise' a "
    "number in [0, 1], 'return' and 'rating' numbers, 'seed' (the episode's reset seed) a "
    "whole number >= 0"
)


@dataclass(frozen=True)
class Extras:
    """A dataset's metadata, preferences and given ranking, checked.

    episode_meta: one dict per episode ({} when it has none).
    preferences: segment comparisons over the dataset's episodes.
    ranking: episode indices, best first, as given by a person; None when none was given.
    """

    episode_meta: tuple[dict[str, Any], ...] = ()
    preferences: tuple[Preference, ...] = ()
    ranking: tuple[int, ...] | None = None


# --------------------------------------------------------------------------- checks


def check_meta(ctx: Context, field: str, meta: Any, episode: int, fix: str) -> dict[str, Any]:
    """One episode's metadata as a plain dict (NumPy scalars made Python), or one error."""
    where = f"of episode {episode + ctx.first_episode}"
    if not isinstance(meta, Mapping):
        ctx.fail(field, f"{where} is {type(meta).__name__}, expected an object", fix)
    out: dict[str, Any] = {}
    for key, raw in meta.items():
        if not isinstance(key, str):
            ctx.fail(field, f"{where} has the key {key!r}, expected strings", fix)
        value = raw.item() if isinstance(raw, np.generic) else raw
        if value is not None and not isinstance(value, bool | int | float | str):
            ctx.fail(field, f"{where} has '{key}' = {value!r}, not a JSON scalar", fix)
        if isinstance(value, float) and not math.isfinite(value):
            ctx.fail(field, f"{where} has '{key}' = {value}, not a finite number", fix)
        if key in NUMERIC_META and (isinstance(value, bool) or not isinstance(value, int | float)):
            ctx.fail(field, f"{where} has '{key}' = {value!r}, expected a number", fix)
        if key == "noise" and isinstance(value, int | float) and not 0 <= value <= 1:
            ctx.fail(field, f"{where} has 'noise' = {value}, outside [0, 1]", fix)
        bad_seed = isinstance(value, bool) or not isinstance(value, int) or value < 0
        if key == "seed" and value is not None and bad_seed:  # rank and the clips replay it
            ctx.fail(field, f"{where} has 'seed' = {value!r}, expected a whole number >= 0", fix)
        out[key] = value
    return out


def episode_meta(ctx: Context, trajs: Sequence[Trajectory], fields: str) -> tuple[dict, ...]:
    """The episodes' metadata, checked before they are written (`fields`: the field name)."""
    return tuple(check_meta(ctx, fields, t.meta, i, SAVE_FIX) for i, t in enumerate(trajs))


def check_extras(
    ctx: Context, extras: Extras, lengths: np.ndarray, fields: tuple[str, str]
) -> None:
    """Preferences and ranking against the episodes' lengths (fields: what the format calls
    the preferences and the ranking)."""
    pref_field, rank_field = fields
    sizes = [int(n) for n in lengths]
    for i, pref in enumerate(extras.preferences):
        for name, seg in zip("ab", (pref.a, pref.b), strict=True):
            problem = segment_problem(seg, sizes)
            if problem is not None:
                ctx.fail(pref_field, f"entry {i}: segment {name} {problem}",
                         "compare segments inside the episodes")  # fmt: skip
    if extras.ranking is not None:
        problem = ranking_problem(extras.ranking, len(lengths))
        if problem is not None:
            ctx.fail(rank_field, problem, "give distinct episode indices, best first")


# --------------------------------------------------------------------------- .npz


def npz_extras(extras: Extras) -> dict[str, np.ndarray]:
    """The arrays a .npz holds for `extras` (none for what is empty)."""
    arrays: dict[str, np.ndarray] = {}
    if any(extras.episode_meta):
        arrays[EPISODE_META] = np.array(json.dumps(list(extras.episode_meta), allow_nan=False))
    if extras.preferences:
        arrays[PREF_SEGMENTS] = np.array(
            [[p.a, p.b] for p in extras.preferences], dtype=np.int64
        ).reshape(-1, 2, 3)
        arrays[PREF_LABELS] = np.array([p.label for p in extras.preferences], dtype=np.float64)
    if extras.ranking is not None:
        arrays[RANKING] = np.array(extras.ranking, dtype=np.int64)
    return arrays


def read_npz_extras(ctx: Context, arrays: Mapping[str, np.ndarray], lengths: np.ndarray) -> Extras:
    """The extras of a .npz whose episodes have `lengths`, each checked (absent: none)."""
    n = len(lengths)
    meta: tuple[dict[str, Any], ...] = ({},) * n
    if EPISODE_META in arrays:
        meta = _meta_list(ctx, EPISODE_META, _json_array(ctx, EPISODE_META, arrays), n)
    prefs: tuple[Preference, ...] = ()
    if PREF_SEGMENTS in arrays or PREF_LABELS in arrays:
        prefs = _npz_preferences(ctx, arrays, lengths)
    ranking = None
    if RANKING in arrays:
        ranking = _ranking(ctx, RANKING, arrays[RANKING], n)
    return Extras(meta, prefs, ranking)


def _json_array(ctx: Context, field: str, arrays: Mapping[str, np.ndarray]) -> Any:
    raw = arrays[field]
    if raw.ndim != 0 or raw.dtype.kind != "U":
        ctx.fail(
            field,
            f"has shape {raw.shape} and dtype {raw.dtype}, expected a JSON string",
            INCONSISTENT_FIX,
        )
    try:
        return json.loads(str(raw[()]))
    except json.JSONDecodeError as exc:
        ctx.fail(field, f"is not valid JSON ({exc})", INCONSISTENT_FIX)


def _npz_preferences(
    ctx: Context, arrays: Mapping[str, np.ndarray], lengths: np.ndarray
) -> tuple[Preference, ...]:
    for field, other in ((PREF_SEGMENTS, PREF_LABELS), (PREF_LABELS, PREF_SEGMENTS)):
        if field not in arrays:
            ctx.fail(field, f"is missing but field '{other}' is present", INCONSISTENT_FIX)
    segs, labels = arrays[PREF_SEGMENTS], arrays[PREF_LABELS]
    if segs.ndim != 3 or segs.shape[1:] != (2, 3) or segs.dtype.kind not in "iu":
        ctx.fail(
            PREF_SEGMENTS,
            f"has shape {segs.shape} and dtype {segs.dtype}, expected (P, 2, 3) integers: "
            "(episode, start, stop) of segments a and b",
            INCONSISTENT_FIX,
        )
    if labels.shape != (len(segs),) or labels.dtype.kind not in "biuf":
        ctx.fail(
            PREF_LABELS,
            f"has shape {labels.shape} and dtype {labels.dtype}, expected ({len(segs)},) "
            "numbers: one label per segment pair",
            INCONSISTENT_FIX,
        )
    sizes = [int(n) for n in lengths]
    return tuple(
        _preference(ctx, PREF_SEGMENTS, PREF_LABELS, i, seg, label, sizes)
        for i, (seg, label) in enumerate(zip(segs.tolist(), labels.tolist(), strict=True))
    )


def _preference(
    ctx: Context,
    seg_field: str,
    label_field: str,
    i: int,
    segs: Any,
    label: Any,
    lengths: list[int],
) -> Preference:
    """Entry `i`: two segments inside the episodes (`lengths`), a label in [0, 1]."""
    if not isinstance(segs, list) or len(segs) != 2:
        ctx.fail(seg_field, f"entry {i} is {segs!r}, expected two segments", INCONSISTENT_FIX)
    for name, seg in zip("ab", segs, strict=True):
        if not isinstance(seg, list) or len(seg) != 3:
            ctx.fail(
                seg_field,
                f"entry {i}: segment {name} is {seg!r}, expected [episode, start, stop]",
                INCONSISTENT_FIX,
            )
        problem = segment_problem(Segment(*seg), lengths)
        if problem is not None:
            ctx.fail(seg_field, f"entry {i}: segment {name} {problem}", INCONSISTENT_FIX)
    if not isinstance(label, bool | int | float) or not 0 <= label <= 1:  # NaN fails too
        ctx.fail(
            label_field,
            f"entry {i} is {label!r}, expected P(a preferred) in [0, 1]",
            INCONSISTENT_FIX,
        )
    return Preference(Segment(*segs[0]), Segment(*segs[1]), float(label))


def _ranking(ctx: Context, field: str, raw: Any, n: int) -> tuple[int, ...]:
    if isinstance(raw, np.ndarray):
        ok = raw.ndim == 1 and (raw.size == 0 or raw.dtype.kind in "iu")
        found = f"an array of shape {raw.shape} and dtype {raw.dtype}"
        ranking = raw.tolist() if ok else []
    else:
        ok = isinstance(raw, list) and all(
            isinstance(r, int) and not isinstance(r, bool) for r in raw
        )
        found = f"{raw!r}"[:60] if isinstance(raw, list) else f"a JSON {type(raw).__name__}"
        ranking = raw if ok else []
    if not ok:
        ctx.fail(field, f"is {found}, expected a list of episode indices (integers)",
                 INCONSISTENT_FIX)  # fmt: skip
    problem = ranking_problem(ranking, n)
    if problem is not None:
        ctx.fail(field, problem, INCONSISTENT_FIX)
    return tuple(int(r) for r in ranking)


def _meta_list(ctx: Context, field: str, raw: Any, n: int) -> tuple[dict[str, Any], ...]:
    if not isinstance(raw, list) or len(raw) != n:
        got = f"a list of {len(raw)}" if isinstance(raw, list) else f"a JSON {type(raw).__name__}"
        ctx.fail(field, f"is {got}, expected a list of {n} objects (one per episode)",
                 INCONSISTENT_FIX)  # fmt: skip
    return tuple(check_meta(ctx, field, m, i, INCONSISTENT_FIX) for i, m in enumerate(raw))


# --------------------------------------------------------------------------- Minari


def block_extras(extras: Extras) -> dict[str, Any]:
    """The entries of the `protege` block of metadata.json for `extras` (none when empty)."""
    block: dict[str, Any] = {}
    if any(extras.episode_meta):
        block[EPISODE_META] = list(extras.episode_meta)
    if extras.preferences:
        block[PREFERENCES] = [
            {"a": list(p.a), "b": list(p.b), "label": p.label} for p in extras.preferences
        ]
    if extras.ranking is not None:
        block[RANKING] = list(extras.ranking)
    return block


def read_block_extras(ctx: Context, block: Mapping[str, Any], lengths: np.ndarray) -> Extras:
    """The extras of a Minari dataset's `protege` block, each checked (absent: none)."""
    n = len(lengths)
    meta: tuple[dict[str, Any], ...] = ({},) * n
    if block.get(EPISODE_META) is not None:
        meta = _meta_list(ctx, f"protege.{EPISODE_META}", block[EPISODE_META], n)
    prefs: tuple[Preference, ...] = ()
    field = f"protege.{PREFERENCES}"
    raw = block.get(PREFERENCES)
    if raw is not None:
        if not isinstance(raw, list):
            ctx.fail(field, f"is a JSON {type(raw).__name__}, expected a list", INCONSISTENT_FIX)
        entries = []
        sizes = [int(n) for n in lengths]
        for i, entry in enumerate(raw):
            if not isinstance(entry, dict) or set(entry) != {"a", "b", "label"}:
                ctx.fail(
                    field,
                    f"entry {i} is {entry!r}, expected an object with 'a', 'b' and 'label'",
                    INCONSISTENT_FIX,
                )
            segs = [entry["a"], entry["b"]]
            entries.append(_preference(ctx, field, field, i, segs, entry["label"], sizes))
        prefs = tuple(entries)
    ranking = None
    if block.get(RANKING) is not None:
        ranking = _ranking(ctx, f"protege.{RANKING}", block[RANKING], n)
    return Extras(meta, prefs, ranking)
