"""What every face detector gives and promises: one face-box container, one small protocol."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class FaceBoxes:
    """Faces found in one image: parallel arrays, boxes xyxy in pixels of the original image.

    Index it like an array (`boxes[mask]`, `boxes[[0, 2]]`, `boxes[1:]`) to keep some faces;
    `FaceBoxes.empty()` is no face; `FaceBoxes.merge([...])` joins the faces of several passes."""

    xyxy: np.ndarray  # (n, 4) float32
    scores: np.ndarray  # (n,) float32
    # (n, 5, 2) float32: eyes, nose, mouth corners; None from detectors that give no landmarks,
    # and for boxes that come from elsewhere (a tracker).
    landmarks: np.ndarray | None = None
    # (n, classes) mask-class probabilities from a detector with a mask head (FaceDetector.mask_labels
    # order); None for detectors without one.
    mask_probs: np.ndarray | None = None

    def __post_init__(self):
        n = len(self.scores)
        shapes = {"xyxy": (np.shape(self.xyxy), (n, 4))}
        if self.landmarks is not None:
            shapes["landmarks"] = (np.shape(self.landmarks), (n, 5, 2))
        if self.mask_probs is not None:
            shapes["mask_probs"] = (np.shape(self.mask_probs)[:1], (n,))
        for name, (got, want) in shapes.items():
            if tuple(got) != want:
                raise ValueError(f"FaceBoxes.{name} has shape {tuple(got)}, expected {want} for {n} scores")

    def __len__(self) -> int:
        return len(self.scores)

    def __getitem__(self, index) -> FaceBoxes:
        if isinstance(index, (int, np.integer)):
            index = [int(index)]  # one face is still a container: callers never branch on it

        def pick(a):
            return None if a is None else a[index]

        return FaceBoxes(self.xyxy[index], self.scores[index], pick(self.landmarks), pick(self.mask_probs))

    @classmethod
    def empty(cls, landmarks: bool = True, mask_classes: int = 0) -> FaceBoxes:
        return cls(
            np.zeros((0, 4), np.float32),
            np.zeros(0, np.float32),
            np.zeros((0, 5, 2), np.float32) if landmarks else None,
            np.zeros((0, mask_classes), np.float32) if mask_classes else None,
        )

    @classmethod
    def merge(cls, parts: list[FaceBoxes]) -> FaceBoxes:
        """The faces of every part, in order. Landmarks and mask probabilities are kept only
        where every part has them (a merged container never has holes)."""
        if not parts:
            return cls.empty()

        def joined(name):
            arrays = [getattr(p, name) for p in parts]
            return None if any(a is None for a in arrays) else np.concatenate(arrays)

        return cls(
            np.concatenate([p.xyxy for p in parts]).astype(np.float32).reshape(-1, 4),
            np.concatenate([p.scores for p in parts]).astype(np.float32),
            joined("landmarks"),
            joined("mask_probs"),
        )

    def scaled(self, k: float) -> FaceBoxes:
        """The same faces with boxes and landmarks multiplied by k (found in a resized image)."""
        lm = None if self.landmarks is None else (self.landmarks * k).astype(np.float32)
        return FaceBoxes((self.xyxy * k).astype(np.float32), self.scores, lm, self.mask_probs)

    @property
    def heights(self) -> np.ndarray:
        return self.xyxy[:, 3] - self.xyxy[:, 1]


class FaceDetector(Protocol):
    """A face detector backend (registered by name in `maskwatch.detectors`).

    name: recorded in every output; score_threshold / upscale: the operating point it runs at;
    mask_labels: the classes of its mask head, or None (what it outputs besides boxes and scores);
    gives_landmarks: whether FaceBoxes.landmarks is filled."""

    name: str
    score_threshold: float
    upscale: float
    mask_labels: tuple[str, ...] | None
    gives_landmarks: bool

    def detect(self, image: np.ndarray) -> FaceBoxes:
        """Faces in a BGR uint8 image of shape (h, w, 3), best first."""
        ...
