"""Every pipeline default, written once: frozen settings and the named presets that use them.

Photos, video and evaluation run the same pipeline at different operating points; each is a
preset here (PHOTO, VIDEO, EVALUATION), and the CLI, `Detector`, the batch and Ray jobs, `serve`,
video and the benchmarks all start from one of them. Every output records the settings that made
it (`Settings.to_dict`). No imports beyond the standard library: `maskwatch --help` reads these.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

# Face score threshold: the detector's score, times the classifier's face probability when the
# classifier knows non-faces (`maskwatch train --non-faces`, as the shipped one). Those products run
# lower, so such classifiers get 0.25: on ilc2021 val (classifier trained without val) face recall
# 0.873 and precision 0.796 at 0.25, against 0.881 / 0.753 for the classifier before at 0.5;
# 0.3 gave 0.867 / 0.810, 0.35 0.861 / 0.822, 0.5 0.837 / 0.846 (MODEL_CARD.md).
FACE_THRESHOLD = 0.5
NON_FACE_AWARE_THRESHOLD = 0.25
# AP ranks every detection, so it is measured down to a low face score (as COCO-style evaluators
# do); chosen on kaggle-853 train: mAP50 0.786 at 0.5, 0.812 at 0.15, 0.825 at 0.05.
EVALUATION_THRESHOLD = 0.05
# Enlarging finds the 10-20 px faces of crowd photos. Chosen in round 1 on a held-out part of
# kaggle-853 train (docs/experiments.md): 2x, 2.25x and 2.5x within noise of each other, 3x too
# slow; detection is most of a photo's time (benchmarks/bench_image.py).
PHOTO_UPSCALE = 2.25
# Video faces are usually larger than in crowd photos, and every millisecond counts at 30 fps.
VIDEO_UPSCALE = 1.0
# How far the classifier's face probability is trusted by face height (face_score.SizeTrust):
# (0, 0) trusts it at every size, the product of detector score and face probability. Trusting it
# less on small faces traded recall for precision on the kaggle holdout and ilc val, as did every
# other rule tried, so the product stays (2026-12-03, MODEL_CARD.md).
FACE_TRUST_PX = (0.0, 0.0)
MAX_SIDE = 1280
NMS_IOU = 0.4
DEFAULT_DETECTOR = "finetuned"
# Where a face's mask label comes from: the crop classifier, the detector's own mask head
# (detectors trained with `train-detector --mask-head`), or the mean of both. The classifier: it
# beat the head and the mean on a held-out part of kaggle-853 train (round 1) and on ilc2021 val
# with a head trained on ilc2021 too (round 2; MODEL_CARD.md).
LABEL_SOURCES = ("classifier", "detector", "both")
# Video: "balanced" labels people as if every class were equally common (the classifier's
# training mix divided out); "trained" keeps the classifier's probabilities as they are.
CLASS_PRIORS = ("balanced", "trained")


@dataclass(frozen=True)
class Settings:
    """How the pipeline runs: which models, and the operating point of each stage.

    conf None: the face threshold follows the classifier (NON_FACE_AWARE_THRESHOLD for one that
    knows non-faces, FACE_THRESHOLD otherwise); `resolved(...)` fills it in. flip None: the
    classifier's own choice of a mirrored second look at unsure crops."""

    detector: str = DEFAULT_DETECTOR  # a registered name (maskwatch.detectors) or a .onnx path
    classifier: str | None = None  # a classifier .onnx; None: the shipped one
    conf: float | None = None
    upscale: float = PHOTO_UPSCALE
    max_side: int = MAX_SIDE
    pyramid: bool = True  # a coarse second pass for faces too big for the enlarged one
    raw_boxes: bool = False  # the detector's own boxes, without the shift to the annotations' convention
    nms_iou: float = NMS_IOU
    labels_from: str = "classifier"
    flip: bool | None = None
    threads: int | None = None  # CPU threads for inference; None: all cores
    face_trust: tuple[float, float] = FACE_TRUST_PX  # face probability ignored under [0] px tall, in full from [1]
    runtime: str = "onnxruntime"  # runtimes.RUNTIMES: onnxruntime, openvino, openvino-bf16, auto
    # The part check (parts.py): a .onnx from `maskwatch train-parts`, "off", or None: the shipped
    # one where the package has it (specs.DEFAULT_PARTS). part_weight None: the model's own.
    parts: str | None = None
    part_weight: float | None = None

    def __post_init__(self):
        # One-line errors for every caller (CLI, API, site file), NaN and infinity included.
        if not (isinstance(self.upscale, (int, float)) and math.isfinite(self.upscale) and self.upscale > 0):
            raise ValueError(f"upscale must be a finite number > 0, got {self.upscale}")
        if self.conf is not None and not (isinstance(self.conf, (int, float)) and 0.0 <= self.conf <= 1.0):
            raise ValueError(f"conf (the face score threshold) must be between 0 and 1, got {self.conf}")
        if not isinstance(self.max_side, int) or self.max_side < 32:
            raise ValueError(f"max_side must be a whole number of at least 32, got {self.max_side}")
        if not 0.0 < self.nms_iou <= 1.0:
            raise ValueError(f"nms_iou must be in (0, 1], got {self.nms_iou}")
        if self.labels_from not in LABEL_SOURCES:
            raise ValueError(f"labels_from must be one of {', '.join(LABEL_SOURCES)}, got {self.labels_from!r}")
        if self.threads is not None and (not isinstance(self.threads, int) or self.threads < 1):
            raise ValueError(f"threads must be a whole number of at least 1, got {self.threads}")
        trust = tuple(self.face_trust) if isinstance(self.face_trust, (tuple, list)) else ()
        if not (len(trust) == 2 and all(isinstance(v, (int, float)) and math.isfinite(v) for v in trust) and 0 <= trust[0] <= trust[1]):
            raise ValueError(f"face_trust must be two heights in pixels, 0 <= low <= high, got {self.face_trust}")
        object.__setattr__(self, "face_trust", tuple(float(v) for v in trust))
        if self.part_weight is not None and not (
            isinstance(self.part_weight, (int, float)) and math.isfinite(self.part_weight) and self.part_weight >= 0
        ):
            raise ValueError(f"part_weight must be a finite number >= 0, got {self.part_weight}")
        from .runtimes import RUNTIMES

        if self.runtime not in RUNTIMES:
            raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, got {self.runtime!r}")
        if not self.detector:
            object.__setattr__(self, "detector", DEFAULT_DETECTOR)

    def but(self, **changes) -> Settings:
        """A copy with some fields changed (None values are ignored: 'not given')."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown setting(s) {', '.join(unknown)}: known are {', '.join(sorted(known))}")
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def resolved(self, rejects_non_faces: bool) -> Settings:
        """With the face threshold filled in for a classifier that does (or not) know non-faces."""
        if self.conf is not None:
            return self
        return replace(self, conf=NON_FACE_AWARE_THRESHOLD if rejects_non_faces else FACE_THRESHOLD)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Settings:
        return cls().but(**d)


@dataclass(frozen=True)
class VideoSettings:
    """What video adds to the pipeline's settings: the tracker's class prior and the frame step."""

    detect_every: int = 1  # run detection every Nth frame; the tracker carries boxes in between
    class_prior: str = "balanced"
    stall_timeout: float = 5.0  # seconds without data before a stream counts as stalled
    reconnect_timeout: float = 30.0  # seconds to keep reconnecting a lost stream

    def __post_init__(self):
        if not isinstance(self.detect_every, int) or self.detect_every < 1:
            raise ValueError(f"detect_every must be a whole number of at least 1, got {self.detect_every}")
        if self.class_prior not in CLASS_PRIORS:
            raise ValueError(f"class prior must be one of {', '.join(CLASS_PRIORS)}, not {self.class_prior!r}")
        for name in ("stall_timeout", "reconnect_timeout"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a finite number of seconds > 0, got {v}")

    def to_dict(self) -> dict:
        return asdict(self)


# The presets. Photos: enlarged for small faces, the threshold chosen by classifier.
PHOTO = Settings()
# Video labels tracks with the classifier's mask classes only (its face probability is not used),
# so the face score is the detector's alone and its threshold the detector's 0.5; no mirrored
# second look (per-track smoothing over frames does that job).
VIDEO = Settings(upscale=VIDEO_UPSCALE, conf=FACE_THRESHOLD, flip=False)
# Evaluation: the photo pipeline, detections down to a low face score (AP ranks them all).
EVALUATION = Settings(conf=EVALUATION_THRESHOLD)
PRESETS = {"photo": PHOTO, "video": VIDEO, "evaluation": EVALUATION}
VIDEO_DEFAULTS = VideoSettings()
