"""Evaluate the whole pipeline on box-annotated photos: COCO-style AP50 per class, recall by size.

AP is computed by faster-coco-eval (a COCOeval implementation). Every detected face is scored
once per class, with score = face_score x class probability, as multi-class detectors do.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .boxes import greedy_match, inside_share, iou_matrix
from .datasets import Corrections, load_annotations
from .errors import MaskwatchError
from .settings import FACE_THRESHOLD
from .types import LABELS

SIZE_BUCKETS = ((0, 20, "<20"), (20, 32, "20-31"), (32, 64, "32-63"), (64, 1e9, ">=64"))
MAPPING_NOTE = "annotation label mask_weared_incorrect is scored as mask_worn_incorrectly"
# Face height as a share of the photo's height: crowds, groups, portraits, close-ups.
RELATIVE_BUCKETS = ((0, 0.05, "<5%"), (0.05, 0.15, "5-15%"), (0.15, 0.35, "15-35%"), (0.35, 1e9, ">=35%"))
# Counting faces is judged at the photo default face score of the classifier evaluated (a user
# sees these boxes; settings.PHOTO), not at the low score AP ranks down to.
# A close-up: exactly one annotated face, at least this share of the photo's height.
CLOSE_UP_SHARE = 0.35
# An unmatched box with this share of its area inside a matched face's annotated box is a second
# box on that face (a part of the face found as a face of its own).
DUPLICATE_INSIDE = 0.6


@dataclass
class CountStats:
    """How often the number of faces is right (detections at `score_threshold`)."""

    score_threshold: float = FACE_THRESHOLD
    photos: int = 0
    right_count: int = 0  # as many boxes as annotated faces
    close_ups: int = 0  # photos with one annotated face >= CLOSE_UP_SHARE of the height
    close_ups_one_box: int = 0
    duplicate_photos: int = 0  # photos where some annotated face got a second box
    duplicate_boxes: int = 0

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class OperatingPoint:
    """Recall per annotated class and per face-height band, and precision, of the detections at
    one face score threshold (IoU 0.5, class-agnostic: a face counts as found whatever its label)."""

    threshold: float
    found: dict[str, tuple[int, int]]  # class or height band -> (found, annotated)
    kept: int = 0  # boxes at or above the threshold
    true: int = 0  # of which matched an annotated face

    @property
    def precision(self) -> float:
        return self.true / self.kept if self.kept else float("nan")

    def recall(self, key: str | None = None) -> float:
        if key is None:
            f, t = (sum(self.found[l][i] for l in LABELS) for i in (0, 1))
        else:
            f, t = self.found[key]
        return f / t if t else float("nan")

    def to_dict(self) -> dict:
        def num(v: float) -> float | None:  # JSON has no NaN: no annotated face of that kind
            return None if v != v else v

        return {
            "face_score_threshold": self.threshold,
            "recall": num(self.recall()),
            "precision": num(self.precision),
            "boxes": self.kept,
            **{f"recall_{k}": num(self.recall(k)) for k in self.found},
            "found": {k: list(v) for k, v in self.found.items()},
        }

    def format(self) -> str:
        def show(v: float) -> str:
            return "n/a" if v != v else f"{v:.3f}"

        classes = " / ".join(show(self.recall(l)) for l in LABELS)
        bands = ", ".join(f"{name} px {show(self.recall(name))}" for _, _, name in SIZE_BUCKETS)
        return (
            f"at the photo default (face score >= {self.threshold:g}, the boxes a user sees): recall {show(self.recall())}, "
            f"precision {show(self.precision)} ({self.kept} boxes)\n"
            f"  recall with_mask / without_mask / incorrect: {classes}\n  recall by height: {bands}"
        )


def operating_point(gts: list[tuple], found: list[tuple], threshold: float) -> OperatingPoint:
    """gts: (image id, x1, y1, x2, y2, class); found: (image id, box, face score, ...)."""
    bands = [name for _, _, name in SIZE_BUCKETS]
    hit = {k: 0 for k in (*LABELS, *bands)}
    total = dict(hit)
    by_image: dict[int, tuple[list, list]] = {}
    for g in gts:
        by_image.setdefault(g[0], ([], []))[0].append(g)
    for f in found:
        if f[2] >= threshold:
            by_image.setdefault(f[0], ([], []))[1].append(f[1])
    kept = true = 0
    for g, boxes in by_image.values():
        kept += len(boxes)
        matched = {
            r for r, _ in greedy_match(iou_matrix(np.array([x[1:5] for x in g]).reshape(-1, 4), np.array(boxes).reshape(-1, 4)), 0.5)
        }
        true += len(matched)
        for k, (_, _, y1, _, y2, c) in enumerate(g):
            band = next(n for lo, hi, n in SIZE_BUCKETS if lo <= y2 - y1 < hi)
            for key in (LABELS[c], band):
                total[key] += 1
                hit[key] += k in matched
    return OperatingPoint(threshold, {k: (hit[k], total[k]) for k in hit}, kept, true)


@dataclass
class EvalResult:
    n_images: int
    n_boxes: int
    ap50: dict[str, float]  # all boxes
    ap50_min20: dict[str, float]  # boxes < 20 px tall are "ignore" regions
    recall_by_size: dict[str, tuple[int, int]]  # bucket -> (found, total), IoU 0.5, class-agnostic
    recall_by_relative_size: dict[str, tuple[int, int]]  # the same by face height / photo height
    counts: CountStats
    face_precision: float
    classification: list[list[int]]  # confusion of matched faces: true x predicted
    ms_per_image: float
    failed: list[str] = field(default_factory=list)
    pr_curves: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    # 95 % bootstrap intervals (photos resampled): class or "mAP50" -> (low, high); empty when not asked for
    ap50_ci: dict[str, tuple[float, float]] = field(default_factory=dict)
    bootstrap: int = 0
    # What AP was computed from (image id, x1, y1, x2, y2, class[, score]): for paired comparisons.
    gts: list[tuple] = field(default_factory=list, repr=False)
    dets: list[tuple] = field(default_factory=list, repr=False)
    # mAP50 with one kind of error removed (ERROR_KINDS): where the rest of the gap to 1 comes from
    map50_without_error: dict[str, float] = field(default_factory=dict)
    # Class probabilities and true class of every detected face matched to an annotated one.
    matched_probs: np.ndarray = field(default_factory=lambda: np.zeros((0, len(LABELS))), repr=False)
    matched_truth: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False)
    # With corrections: (detections left out because they fall on faces the annotations leave
    # out, such faces listed for these photos, labels corrected); None: no corrections given.
    corrected: tuple[int, int, int] | None = None
    # What a user sees: the boxes at the photo default's face score (OperatingPoint)
    operating_point: OperatingPoint | None = None

    @property
    def map50(self) -> float:
        return float(np.mean(list(self.ap50.values())))

    @property
    def map50_min20(self) -> float:
        return float(np.mean(list(self.ap50_min20.values())))

    def calibration(self) -> dict:
        from .calibration import class_ece, ece, fit_temperature, nll, with_temperature

        p, y = self.matched_probs, self.matched_truth
        if not len(y):
            return {}
        t = fit_temperature(p, y)
        return {
            "faces": int(len(y)),
            "ece": ece(p, y),
            "class_ece": dict(zip(LABELS, class_ece(p, y))),
            "nll": nll(p, y),
            "best_temperature": t,
            "ece_at_best_temperature": ece(with_temperature(p, t), y),
        }

    def to_dict(self) -> dict:
        return {
            "calibration": self.calibration(),
            "images": self.n_images,
            "boxes": self.n_boxes,
            "mapping": MAPPING_NOTE,
            "ap50": self.ap50,
            "map50": self.map50,
            "ap50_faces_min20px": self.ap50_min20,
            "map50_faces_min20px": self.map50_min20,
            "recall_iou50_by_height": {
                k: {"found": f, "total": t, "recall": f / t if t else None} for k, (f, t) in self.recall_by_size.items()
            },
            "recall_iou50_by_height_share": {
                k: {"found": f, "total": t, "recall": f / t if t else None} for k, (f, t) in self.recall_by_relative_size.items()
            },
            "counts": self.counts.to_dict(),
            **({"operating_point": self.operating_point.to_dict()} if self.operating_point else {}),
            "face_precision_iou50": self.face_precision,
            "classification_confusion": self.classification,
            "ms_per_image": self.ms_per_image,
            "failed": self.failed,
            **({"ap50_ci95": {k: list(v) for k, v in self.ap50_ci.items()}, "bootstrap_resamples": self.bootstrap} if self.ap50_ci else {}),
            "map50_without_error": self.map50_without_error,
            **(
                {"corrections": dict(zip(("detections_ignored", "unboxed_faces_listed", "labels_corrected"), self.corrected))}
                if self.corrected
                else {}
            ),
        }

    def format(self) -> str:
        lines = [f"{self.n_images} images, {self.n_boxes} annotated faces ({MAPPING_NOTE})"]
        if self.corrected:
            ignored, listed, relabelled = self.corrected
            lines.append(
                f"corrected annotations: {relabelled} labels corrected; {listed} faces the annotations leave out are ignored "
                f"(COCO crowd regions): {ignored} detections on them count neither as found faces nor as false boxes"
            )
        lines += [
            "",
            f"{'class':24s} {'AP50 all':>9s} {'AP50 >=20px':>12s}",
        ]
        for label in LABELS:
            lines.append(f"{label:24s} {self.ap50[label]:9.3f} {self.ap50_min20[label]:12.3f}")
        lines.append(f"{'mAP50':24s} {self.map50:9.3f} {self.map50_min20:12.3f}")
        if self.ap50_ci:
            lines += ["", f"95 % interval of AP50 (all faces), {self.bootstrap} bootstrap resamples of the photos:"]
            for key in (*LABELS, "mAP50"):
                lo, hi = self.ap50_ci[key]
                lines.append(f"  {key:22s} {lo:.3f} - {hi:.3f}")
        if self.map50_without_error:
            lines += ["", "where mAP50 is lost (the same detections, one kind of error taken away):"]
            for key, text in ERROR_KINDS.items():
                lines.append(f"  {text:32s} {self.map50_without_error[key]:.3f}")
        lines += ["", "face recall at IoU 0.5 by annotated height (class-agnostic):"]
        tf = tt = 0
        for k, (f, t) in self.recall_by_size.items():
            lines.append(f"  {k:>6s} px: {f / t if t else float('nan'):.3f}  ({f}/{t})")
            tf, tt = tf + f, tt + t
        lines.append(f"     all  : {tf / tt if tt else float('nan'):.3f}  ({tf}/{tt}); face precision {self.face_precision:.3f}")
        lines.append("  by height as a share of the photo's height:")
        for k, (f, t) in self.recall_by_relative_size.items():
            lines.append(f"  {k:>8s}: {f / t if t else float('nan'):.3f}  ({f}/{t})")
        if self.operating_point:
            lines += ["", self.operating_point.format()]
        c = self.counts
        lines += [
            "",
            f"face counts (boxes with face score >= {self.counts.score_threshold}, the photo default):",
            f"  photos with the annotated number of faces: {_share(c.right_count, c.photos)}",
            f"  close-ups (one face >= {CLOSE_UP_SHARE:.0%} of the height) with exactly one box: {_share(c.close_ups_one_box, c.close_ups)}",
            f"  photos with a second box on an annotated face: {_share(c.duplicate_photos, c.photos)} ({c.duplicate_boxes} such boxes)",
        ]
        cm = np.array(self.classification)
        lines += ["", "classification of matched faces (rows true, columns predicted):", "  " + " ".join(f"{l[:12]:>12s}" for l in LABELS)]
        for label, row in zip(LABELS, cm):
            lines.append(f"  {' '.join(f'{v:12d}' for v in row)}   {label} (recall {row[LABELS.index(label)] / max(row.sum(), 1):.3f})")
        cal = self.calibration()
        if cal:
            lines += [
                "",
                f"calibration of matched faces: top-label ECE {cal['ece']:.3f} ("
                + ", ".join(f"{l} {v:.3f}" for l, v in cal["class_ece"].items())
                + f"); NLL {cal['nll']:.3f}",
                f"  temperature that would fit these faces best: {cal['best_temperature']:.2f} (ECE {cal['ece_at_best_temperature']:.3f})",
            ]
        lines.append(f"\n{self.ms_per_image:.1f} ms per image (detect + classify)")
        if self.failed:
            lines.append(f"{len(self.failed)} image(s) could not be read")
        return "\n".join(lines)


def evaluate(
    detector,
    annotations: str,
    split: str | None = None,
    part: str | None = None,
    progress: bool = True,
    bootstrap: int = 0,
    seed: int = 0,
    corrections: Corrections | None = None,
) -> EvalResult:
    """`bootstrap` > 0 also gives 95 % intervals of each AP50 from that many resamples of the photos.
    `corrections` (datasets.load_corrections): labels found wrong are corrected, and a detection
    on a real face the annotations leave out (IoU >= 0.5) that matches no annotated face is
    dropped before scoring, as COCO drops detections on its crowd regions, rather than counted
    as a false box."""
    from .imageio import read_image

    images = load_annotations(annotations, split, part)
    unboxed = corrections.unboxed if corrections else {}
    n_relabelled = 0
    if corrections:
        fixed = corrections.apply(images)
        n_relabelled = sum(a[4] != b[4] for old, new in zip(images, fixed) for a, b in zip(old.boxes, new.boxes))
        images = fixed
    if not images:
        raise ValueError("no images to evaluate")
    gts, failed = [], []
    found: list[tuple] = []  # (image id, box, face score, probs, true class of the matched face or -1)
    size_found = {name: 0 for _, _, name in SIZE_BUCKETS}
    size_total = dict(size_found)
    rel_found = {name: 0 for _, _, name in RELATIVE_BUCKETS}
    rel_total = dict(rel_found)
    from .settings import PHOTO

    classifier = getattr(detector, "classifier", None)
    counts = CountStats(score_threshold=PHOTO.resolved(getattr(classifier, "rejects_non_faces", False)).conf)
    m_probs: list[list[float]] = []
    m_truth: list[int] = []
    n_det = n_tp = 0
    n_ignored = n_listed = 0
    cm = np.zeros((len(LABELS), len(LABELS)), np.int64)
    elapsed = 0.0
    it = images
    if progress:
        from tqdm import tqdm

        it = tqdm(images, desc="evaluate", unit="img")
    for img_id, item in enumerate(it, start=1):
        for x1, y1, x2, y2, label in item.boxes:
            gts.append((img_id, x1, y1, x2, y2, LABELS.index(label)))
        try:
            image = read_image(item.path)
        except ValueError as exc:
            failed.append(str(exc))
            continue
        t0 = time.perf_counter()
        faces = detector.detect(image)
        elapsed += time.perf_counter() - t0
        gt_xyxy = np.array([b[:4] for b in item.boxes], np.float64).reshape(-1, 4)
        if unboxed and item.key in unboxed:
            faces, dropped = _drop_unboxed(faces, gt_xyxy, np.array(unboxed[item.key], np.float64).reshape(-1, 4))
            n_ignored += dropped
            n_listed += len(unboxed[item.key])
        det_xyxy = np.array([f.box for f in faces], np.float64).reshape(-1, 4)
        pairs = greedy_match(iou_matrix(gt_xyxy, det_xyxy), 0.5)
        n_det += len(faces)
        n_tp += len(pairs)
        heights = gt_xyxy[:, 3] - gt_xyxy[:, 1]
        matched = {g: d for g, d in pairs}
        truth = {d: LABELS.index(item.boxes[g][4]) for g, d in pairs}
        for k, f in enumerate(faces):
            found.append((img_id, f.box, f.face_score, [f.probs.get(label, 0.0) for label in LABELS], truth.get(k, -1)))
        for g, h in enumerate(heights):
            name = next(n for lo, hi, n in SIZE_BUCKETS if lo <= h < hi)
            rel = next(n for lo, hi, n in RELATIVE_BUCKETS if lo <= h / max(image.shape[0], 1) < hi)
            size_total[name] += 1
            rel_total[rel] += 1
            if g in matched:
                size_found[name] += 1
                rel_found[rel] += 1
                cm[LABELS.index(item.boxes[g][4]), LABELS.index(faces[matched[g]].label)] += 1
                m_probs.append([faces[matched[g]].probs.get(label, 0.0) for label in LABELS])
                m_truth.append(LABELS.index(item.boxes[g][4]))
        _count_faces(counts, gt_xyxy, det_xyxy, np.array([f.face_score for f in faces]), image.shape[0])
    n_ok = len(images) - len(failed)
    dets = _class_dets(found)
    ap_all, curves = coco_ap50(len(images), gts, dets, min_height=0)
    ap_20, _ = coco_ap50(len(images), gts, dets, min_height=20)
    ci = bootstrap_ap50(len(images), gts, dets, bootstrap, seed) if bootstrap > 0 else {}
    budget = {what: float(np.mean(list(coco_ap50(len(images), gts, _class_dets(found, without=what))[0].values()))) for what in ERROR_KINDS}
    return EvalResult(
        n_images=len(images),
        n_boxes=len(gts),
        ap50=ap_all,
        ap50_min20=ap_20,
        recall_by_size={k: (size_found[k], size_total[k]) for k in size_total},
        recall_by_relative_size={k: (rel_found[k], rel_total[k]) for k in rel_total},
        counts=counts,
        matched_probs=np.array(m_probs, np.float64).reshape(-1, len(LABELS)),
        matched_truth=np.array(m_truth, np.int64),
        face_precision=n_tp / n_det if n_det else 0.0,
        classification=cm.tolist(),
        ms_per_image=1000 * elapsed / max(n_ok, 1),
        failed=failed,
        pr_curves=curves,
        ap50_ci=ci,
        bootstrap=bootstrap if ci else 0,
        gts=gts,
        dets=dets,
        map50_without_error=budget,
        corrected=(n_ignored, n_listed, n_relabelled) if corrections is not None else None,
        operating_point=operating_point(gts, found, counts.score_threshold),
    )


def _drop_unboxed(faces: list, gt: np.ndarray, unboxed: np.ndarray) -> tuple[list, int]:
    """`faces` less those on an unboxed face (IoU >= 0.5) that match no annotated one."""
    if not faces or not len(unboxed):
        return faces, 0
    det = np.array([f.box for f in faces], np.float64).reshape(-1, 4)
    on_unboxed = iou_matrix(det, unboxed).max(1) >= 0.5
    if len(gt):
        on_unboxed &= iou_matrix(det, gt).max(1) < 0.5
    return [f for f, drop in zip(faces, on_unboxed) if not drop], int(on_unboxed.sum())


def _share(n: int, total: int) -> str:
    return f"{n / total:.3f} ({n}/{total})" if total else "n/a (0 photos)"


def _count_faces(counts: CountStats, gt: np.ndarray, det: np.ndarray, scores: np.ndarray, photo_h: int) -> None:
    """Add one photo to `counts`: detections at its score threshold against the annotated faces."""
    det = det[scores >= counts.score_threshold] if len(det) else det
    counts.photos += 1
    counts.right_count += int(len(det) == len(gt))
    heights = gt[:, 3] - gt[:, 1]
    if len(gt) == 1 and heights[0] >= CLOSE_UP_SHARE * photo_h:
        counts.close_ups += 1
        counts.close_ups_one_box += int(len(det) == 1)
    if not len(det) or not len(gt):
        return
    iou = iou_matrix(gt, det)  # (faces, boxes)
    inside = inside_share(det, gt).T  # (faces, boxes): share of each box inside each face
    # Each box belongs to the face it overlaps most, if it matches it (IoU >= 0.5) or lies mostly
    # inside it; a face with k such boxes has k - 1 extra.
    on_face = (iou >= 0.5) | (inside >= DUPLICATE_INSIDE)
    owner = iou.argmax(0)
    per_face = np.bincount(owner[on_face[owner, np.arange(len(det))]], minlength=len(gt))
    extra = int(np.maximum(per_face - 1, 0).sum())
    counts.duplicate_boxes += extra
    counts.duplicate_photos += int(extra > 0)


# Where mAP50 is lost: the same detections with one kind of error taken away (what is left of the
# gap to 1 is then the faces the detector missed).
ERROR_KINDS = {
    "wrong_labels": "every found face labelled right",
    "false_boxes": "no false face boxes",
    "both": "both (only missed faces left)",
}


def _class_dets(found: list[tuple], without: str | None = None) -> list[tuple]:
    """One detection per found face and class, scored face_score x class probability; `without`
    (an ERROR_KINDS key) first takes that kind of error away."""
    dets = []
    for img_id, box, face_score, probs, true_class in found:
        if true_class < 0 and without in ("false_boxes", "both"):
            continue
        if true_class >= 0 and without in ("wrong_labels", "both"):
            probs = [1.0 if c == true_class else 0.0 for c in range(len(LABELS))]
        for c, p in enumerate(probs):
            if face_score * p > 1e-6:  # a zero score ranks nothing; it would only tie at the tail
                dets.append((img_id, *box, c, face_score * p))
    return dets


def bootstrap_ap50(n_images: int, gts, dets, resamples: int, seed: int = 0) -> dict[str, tuple[float, float]]:
    """95 % percentile intervals of AP50 per class and of mAP50, resampling photos with replacement.

    Photos, not faces, are the unit: faces in one crowd photo are not independent. With few
    examples of a class (28 incorrectly worn masks in kaggle-853 test) the interval says how far
    a difference between two models can be noise."""
    draws = _bootstrap_draws(n_images, gts, [dets], resamples, seed)[0]
    if not draws["mAP50"]:
        return {}
    return {k: (float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))) for k, v in draws.items()}


def paired_map50_difference(n_images: int, gts, dets_a, dets_b, resamples: int, seed: int = 0) -> dict[str, float]:
    """mAP50 of b minus a on the same photo resamples: the 95 % interval of the difference and how
    often b came out ahead. Far narrower than comparing two separate intervals, because the
    photos that are hard for one model are mostly hard for the other."""
    return paired_differences(n_images, gts, dets_a, dets_b, resamples, seed).get("mAP50", {})


def paired_differences(n_images: int, gts, dets_a, dets_b, resamples: int, seed: int = 0) -> dict[str, dict[str, float]]:
    """As paired_map50_difference, for each class's AP50 and for mAP50."""
    a, b = _bootstrap_draws(n_images, gts, [dets_a, dets_b], resamples, seed)
    out = {}
    for key in (*LABELS, "mAP50"):
        diff = np.array(b[key]) - np.array(a[key])
        if diff.size:
            out[key] = {
                "low": float(np.percentile(diff, 2.5)),
                "high": float(np.percentile(diff, 97.5)),
                "b_ahead": float(np.mean(diff > 0)),
            }
    return out


def _bootstrap_draws(n_images: int, gts, dets_list: list, resamples: int, seed: int) -> list[dict[str, list[float]]]:
    """AP50 per class and mAP50 of each detection list on the same `resamples` draws of photos.
    A draw without every class (which then has no AP) is skipped, for all lists alike."""

    def by_image(rows) -> dict[int, list]:
        out: dict[int, list] = {}
        for r in rows:
            out.setdefault(r[0], []).append(r[1:])
        return out

    def renumber(rows_by_image: dict[int, list], pick) -> list:
        return [(k, *r) for k, i in enumerate(pick, start=1) for r in rows_by_image.get(int(i), ())]

    gts_by_image = by_image(gts)
    dets_by_image = [by_image(d) for d in dets_list]
    rng = np.random.default_rng(seed)
    draws = [{label: [] for label in (*LABELS, "mAP50")} for _ in dets_list]
    for _ in range(resamples):
        pick = rng.integers(1, n_images + 1, n_images)
        g2 = renumber(gts_by_image, pick)
        if len({g[5] for g in g2}) < len(LABELS):
            continue
        for d, out in zip(dets_by_image, draws):
            ap, _ = coco_ap50(n_images, g2, renumber(d, pick))
            for label in LABELS:
                out[label].append(ap[label])
            out["mAP50"].append(float(np.mean([ap[label] for label in LABELS])))
    return draws


def coco_ap50(n_images: int, gts, dets, min_height: float = 0) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """AP at IoU 0.5 per class via faster-coco-eval; faces shorter than min_height are ignored."""
    try:
        from faster_coco_eval import COCO, COCOeval_faster
    except ImportError:
        raise MaskwatchError("evaluation needs faster-coco-eval: pip install 'maskwatch[eval]'") from None

    def xywh(x1, y1, x2, y2):
        return [float(x1), float(y1), float(x2 - x1), float(y2 - y1)]

    gt = {
        "images": [{"id": i, "width": 1, "height": 1} for i in range(1, n_images + 1)],
        "categories": [{"id": c + 1, "name": l} for c, l in enumerate(LABELS)],
        "annotations": [
            {
                "id": k + 1,
                "image_id": i,
                "bbox": xywh(x1, y1, x2, y2),
                "area": float((x2 - x1) * (y2 - y1)),
                "category_id": c + 1,
                "iscrowd": int((y2 - y1) < min_height),
            }
            for k, (i, x1, y1, x2, y2, c) in enumerate(gts)
        ],
    }
    res = [{"image_id": i, "bbox": xywh(x1, y1, x2, y2), "category_id": c + 1, "score": float(s)} for i, x1, y1, x2, y2, c, s in dets]
    coco_gt = COCO(gt)
    ap, curves = {}, {}
    if not res:
        return {l: 0.0 for l in LABELS}, {}
    coco_dt = coco_gt.loadRes(res)
    ev = COCOeval_faster(coco_gt, coco_dt, iouType="bbox")
    ev.params.iouThrs = np.array([0.5])
    ev.params.maxDets = [1000]
    ev.params.areaRng = [[0, 1e10]]
    ev.params.areaRngLbl = ["all"]
    ev.evaluate()
    ev.accumulate()
    precision = ev.eval["precision"]  # [iou, recall, class, area, maxdet]
    for c, label in enumerate(LABELS):
        p = precision[0, :, c, 0, 0]
        ap[label] = float(p[p > -1].mean()) if (p > -1).any() else 0.0
        curves[label] = p
    return ap, curves


def plot_pr(result: EvalResult, path: str | Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rec = np.linspace(0, 1, 101)
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for label, p in result.pr_curves.items():
        ax.plot(rec, np.where(p > -1, p, np.nan), label=f"{label} AP50={result.ap50[label]:.3f}")
    ax.set(xlabel="recall", ylabel="precision", title=f"PR at IoU 0.5, mAP50 = {result.map50:.3f}", xlim=(0, 1), ylim=(0, 1.02))
    ax.legend(loc="lower left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
