"""Result types: one frozen dataclass per face, one container per image.

Inside the pipeline a frame's faces travel as parallel arrays (`faces.FaceBoxes`: detector ->
classifier -> tracker, vectorised); everything handed to users, sinks, the web service and Ray
is a `Face` (tracked or not) in an `ImageResult`, with one `to_dict` / `from_dict` each."""

from __future__ import annotations

from dataclasses import dataclass, field

LABELS = ("with_mask", "without_mask", "mask_worn_incorrectly")
# A classifier trained with `maskwatch train --non-faces` has this extra output: detector boxes
# that hold no face. It lowers face_score; it is never a face's label.
NOT_A_FACE = "not_a_face"


@dataclass(frozen=True)
class Face:
    """One face: box xyxy in pixels of the original image, detector and classifier scores.

    In video, `track_id` is the person's track and `label` the track's decided status (None
    until the tracker is confident), `probs` averaged over the track's frames."""

    box: tuple[float, float, float, float]
    face_score: float
    label: str | None
    score: float  # probs[label]
    probs: dict[str, float]
    track_id: int | None = None
    # Why a mask is worn incorrectly ("nose uncovered", "chin only", ...: parts.REASONS), from the
    # part check; None for the other labels and for faces too small to check.
    reason: str | None = None

    def to_dict(self) -> dict:
        d = {
            "box": [round(float(v), 1) for v in self.box],
            "face_score": round(float(self.face_score), 4),
            "label": self.label,
            "score": round(float(self.score), 4),
            "probs": {k: round(float(v), 4) for k, v in self.probs.items()},
        }
        if self.reason is not None:
            d["reason"] = self.reason
        return d if self.track_id is None else {"track_id": self.track_id, **d}

    @classmethod
    def from_dict(cls, d: dict) -> Face:
        return cls(tuple(d["box"]), d["face_score"], d["label"], d["score"], d["probs"], d.get("track_id"), d.get("reason"))

    def to_row(self, labels=LABELS) -> dict:
        """Flat: to_dict with the probabilities as p_<label> columns (CSV, Parquet); `reason`
        always a column (empty where there is none)."""
        d = self.to_dict()
        probs = d.pop("probs")
        reason = d.pop("reason", None)
        return {**d, **{f"p_{label}": probs.get(label) for label in labels}, "reason": reason}


@dataclass
class ImageResult:
    """Faces found in one input, or the reason it could not be read."""

    file: str
    width: int | None = None
    height: int | None = None
    faces: list[Face] = field(default_factory=list)
    error: str | None = None
    # The error may go away on another try (an internal error, a worker that died, a write that
    # failed), unlike a file that cannot be decoded: `--resume` runs these files again.
    retry: bool = False

    def counts(self) -> dict[str, int]:
        out = {label: 0 for label in LABELS}
        for face in self.faces:
            out[face.label] = out.get(face.label, 0) + 1
        return out

    @classmethod
    def from_dict(cls, d: dict) -> ImageResult:
        faces = [Face.from_dict(f) for f in d["faces"]]
        return cls(file=d["file"], width=d["width"], height=d["height"], faces=faces, error=d["error"], retry=bool(d.get("retry")))

    def to_dict(self) -> dict:
        out = {
            "file": self.file,
            "width": self.width,
            "height": self.height,
            "error": self.error,
            "faces": [f.to_dict() for f in self.faces],
        }
        if self.error and self.retry:
            out["retry"] = True
        return out

    def summary(self) -> str:
        if self.error:
            return f"{self.file}: ERROR {self.error}"
        c = self.counts()
        parts = ", ".join(f"{v} {k}" for k, v in c.items() if v)
        return f"{self.file}: {len(self.faces)} face(s)" + (f" ({parts})" if parts else "")
