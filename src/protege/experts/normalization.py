"""Observation normalisation that travels inside an SB3 expert's model file.

MuJoCo experts are trained on observations normalised by running statistics (SB3's
`VecNormalize`, as rl-zoo does for every MuJoCo recipe); without those statistics the
policy acts on the wrong inputs and scores near random. SB3 keeps them in a separate pickle;
protege writes them into the model's own .zip as one extra JSON entry (SB3's loader reads
only the entries it knows, so the file still loads with SB3 alone), so the expert file by
itself reproduces its return.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from protege.errors import ExpertError

ENTRY = "protege_obs_normalization.json"
"""The zip entry holding the statistics."""


@dataclass(frozen=True)
class ObsNormalization:
    """`clip((obs - mean) / sqrt(var + epsilon), -clip, clip)`, SB3 VecNormalize's formula."""

    mean: tuple[float, ...]
    var: tuple[float, ...]
    epsilon: float = 1e-8
    clip: float = 10.0

    @classmethod
    def from_vec_normalize(cls, venv: Any) -> ObsNormalization:
        """The observation statistics of an SB3 `VecNormalize` (Box observations)."""
        rms = venv.obs_rms
        return cls(
            tuple(float(x) for x in np.ravel(rms.mean)),
            tuple(float(x) for x in np.ravel(rms.var)),
            float(venv.epsilon),
            float(venv.clip_obs),
        )

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        obs = np.asarray(obs, dtype=np.float64)
        mean, var = np.asarray(self.mean), np.asarray(self.var)
        if obs.shape[-1] != len(mean):
            raise ExpertError(
                f"the expert normalises {len(mean)} observation values but got {obs.shape[-1]}; "
                "use the expert on the env it was trained on"
            )
        out = np.clip((obs - mean) / np.sqrt(var + self.epsilon), -self.clip, self.clip)
        return out.astype(np.float32)


def write_with_normalization(
    save: Any, norm: ObsNormalization | None, f: IO[bytes]
) -> None:  # fmt: skip
    """`save(buffer)` (an SB3 `model.save`), plus `norm` as one more zip entry, into `f`."""
    buffer = io.BytesIO()
    save(buffer)
    if norm is not None:
        with zipfile.ZipFile(buffer, "a") as zf:
            zf.writestr(ENTRY, json.dumps(asdict(norm)))
    f.write(buffer.getvalue())


def read_normalization(path: str | Path) -> ObsNormalization | None:
    """The statistics stored in an SB3 model file, or None when it has none."""
    try:
        with zipfile.ZipFile(path) as zf:
            if ENTRY not in zf.namelist():
                return None
            raw = json.loads(zf.read(ENTRY))
        norm = ObsNormalization(
            tuple(float(x) for x in raw["mean"]), tuple(float(x) for x in raw["var"]),
            float(raw["epsilon"]), float(raw["clip"]),
        )  # fmt: skip
    except (zipfile.BadZipFile, OSError, KeyError, TypeError, ValueError) as exc:
        raise ExpertError(
            f"{path}: its observation normalisation ({ENTRY}) is unreadable ({exc}); "
            "train or download the expert again"
        ) from None
    if len(norm.mean) != len(norm.var) or not all(np.isfinite(norm.mean + norm.var)):
        raise ExpertError(f"{path}: {ENTRY} holds malformed statistics; train the expert again")
    return norm
