"""A face score that means the same at every face size.

The classifier's face probability (`maskwatch train --non-faces`) comes from a crop enlarged to
its input size: of a 40 px face it says a lot, of a 12 px one little, so multiplying every box's
detector score by it drops small real faces far more often than large ones. Here the face
probability counts in full only from `trusted_px` up, not at all under `untrusted_px`, and in
between in proportion: score = detector score x face probability ** weight(height). The score
never exceeds the detector's, so a detector threshold at the face threshold loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SizeTrust:
    """How far the face probability of a box of a given height (original pixels) is trusted."""

    untrusted_px: float = 0.0  # at or under this height it is ignored
    trusted_px: float = 0.0  # from this height up it counts in full; 0, 0: it always does

    def __post_init__(self):
        if not (0 <= self.untrusted_px <= self.trusted_px):
            raise ValueError(f"face-probability trust needs 0 <= untrusted_px <= trusted_px, got {self.untrusted_px}, {self.trusted_px}")

    def weight(self, heights: np.ndarray) -> np.ndarray:
        h = np.asarray(heights, np.float64)
        if self.trusted_px <= self.untrusted_px:
            return (h > self.untrusted_px).astype(np.float64) if self.untrusted_px else np.ones_like(h)
        return np.clip((h - self.untrusted_px) / (self.trusted_px - self.untrusted_px), 0.0, 1.0)


def face_scores(detector_scores, face_probs, heights, trust: SizeTrust) -> np.ndarray:
    """Per box: the detector's score times the face probability raised to its size's weight."""
    det = np.asarray(detector_scores, np.float64)
    face = np.clip(np.asarray(face_probs, np.float64), 1e-9, 1.0)
    return det * face ** trust.weight(heights)
