"""Result types: one frozen dataclass per face, one container per image."""

from __future__ import annotations

from dataclasses import dataclass, field

LABELS = ("with_mask", "without_mask", "mask_worn_incorrectly")
# A classifier trained with `maskwatch train --non-faces` has this extra output: detector boxes
# that hold no face. It lowers face_score; it is never a face's label.
NOT_A_FACE = "not_a_face"


@dataclass(frozen=True)
class Face:
    """One face: box xyxy in pixels of the original image, detector and classifier scores."""

    box: tuple[float, float, float, float]
    face_score: float
    label: str
    score: float
    probs: dict[str, float]

    def to_dict(self) -> dict:
        return {
            "box": [round(float(v), 1) for v in self.box],
            "face_score": round(float(self.face_score), 4),
            "label": self.label,
            "score": round(float(self.score), 4),
            "probs": {k: round(float(v), 4) for k, v in self.probs.items()},
        }


@dataclass
class ImageResult:
    """Faces found in one input, or the reason it could not be read."""

    file: str
    width: int | None = None
    height: int | None = None
    faces: list[Face] = field(default_factory=list)
    error: str | None = None

    def counts(self) -> dict[str, int]:
        out = {label: 0 for label in LABELS}
        for face in self.faces:
            out[face.label] = out.get(face.label, 0) + 1
        return out

    def to_dict(self) -> dict:
        return {
            "file": self.file,
            "width": self.width,
            "height": self.height,
            "error": self.error,
            "faces": [f.to_dict() for f in self.faces],
        }

    def summary(self) -> str:
        if self.error:
            return f"{self.file}: ERROR {self.error}"
        c = self.counts()
        parts = ", ".join(f"{v} {k}" for k, v in c.items() if v)
        return f"{self.file}: {len(self.faces)} face(s)" + (f" ({parts})" if parts else "")
