"""Which faces are worth a person's look: the ones the models are unsure of, and a few sure ones.

Unsure: the classifier's top two labels are close, or its top probability is low, or the
detector's face score is near its threshold (is it a face at all?). A small, fixed share of
sure faces is kept too: without them the answers would say only how the model does where it
is weak, and a retrained model could not be checked for what it already did well.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ..types import LABELS


@dataclass(frozen=True)
class ReviewPolicy:
    max_top: float = 0.75  # top probability under this: unsure
    min_margin: float = 0.3  # top minus second under this: unsure
    face_band: float = 0.15  # face score within this above the detector's threshold: unsure
    sample_rate: float = 0.03  # share of sure faces kept
    min_px: float = 12.0  # smaller faces carry too little for a person (or a model) to tell
    per_hour: int | None = 500  # faces kept per camera per hour (None: no bound)
    # Keep every face, the ones this policy would leave out marked "extra": for a new site or a
    # small set where a person labels everything (the least sure still come first on the page).
    keep_all: bool = False


def _stable_fraction(key: str) -> float:
    """A number in [0, 1) from the key: the same face is sampled or not on every run."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big") / 2**64


def judge(probs: dict, face_score: float, box, conf: float, key: str, policy: ReviewPolicy) -> tuple[str, float] | None:
    """(why, unsureness) for a face worth keeping, None for one to leave out."""
    x1, y1, x2, y2 = box
    if min(x2 - x1, y2 - y1) < policy.min_px and not policy.keep_all:
        return None
    p = sorted((float(probs.get(label, 0.0)) for label in LABELS), reverse=True)
    margin = p[0] - p[1]
    unsureness = 1.0 - margin
    near_threshold = face_score < conf + policy.face_band
    if p[0] < policy.max_top or margin < policy.min_margin or near_threshold:
        # A face near the detector's threshold ranks as unsure as its closer call of the two.
        if near_threshold:
            unsureness = max(unsureness, 1.0 - (face_score - conf) / max(policy.face_band, 1e-6))
        return "unsure", unsureness
    if _stable_fraction(key) < policy.sample_rate:
        return "sample", unsureness
    return ("extra", unsureness) if policy.keep_all else None
