"""Evaluate the whole pipeline on box-annotated photos: COCO-style AP50 per class, recall by size.

AP is computed by faster-coco-eval (a COCOeval implementation). Every detected face is scored
once per class, with score = face_score x class probability, as multi-class detectors do.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .boxes import greedy_match, iou_matrix
from .datasets import load_annotations
from .types import LABELS

SIZE_BUCKETS = ((0, 20, "<20"), (20, 32, "20-31"), (32, 64, "32-63"), (64, 1e9, ">=64"))
MAPPING_NOTE = "annotation label mask_weared_incorrect is scored as mask_worn_incorrectly"


@dataclass
class EvalResult:
    n_images: int
    n_boxes: int
    ap50: dict[str, float]  # all boxes
    ap50_min20: dict[str, float]  # boxes < 20 px tall are "ignore" regions
    recall_by_size: dict[str, tuple[int, int]]  # bucket -> (found, total), IoU 0.5, class-agnostic
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

    @property
    def map50(self) -> float:
        return float(np.mean(list(self.ap50.values())))

    @property
    def map50_min20(self) -> float:
        return float(np.mean(list(self.ap50_min20.values())))

    def to_dict(self) -> dict:
        return {
            "images": self.n_images, "boxes": self.n_boxes, "mapping": MAPPING_NOTE,
            "ap50": self.ap50, "map50": self.map50, "ap50_faces_min20px": self.ap50_min20, "map50_faces_min20px": self.map50_min20,
            "recall_iou50_by_height": {k: {"found": f, "total": t, "recall": f / t if t else None} for k, (f, t) in self.recall_by_size.items()},
            "face_precision_iou50": self.face_precision, "classification_confusion": self.classification,
            "ms_per_image": self.ms_per_image, "failed": self.failed,
            **({"ap50_ci95": {k: list(v) for k, v in self.ap50_ci.items()}, "bootstrap_resamples": self.bootstrap} if self.ap50_ci else {}),
            "map50_without_error": self.map50_without_error,
        }

    def format(self) -> str:
        lines = [f"{self.n_images} images, {self.n_boxes} annotated faces ({MAPPING_NOTE})", "",
                 f"{'class':24s} {'AP50 all':>9s} {'AP50 >=20px':>12s}"]
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
        cm = np.array(self.classification)
        lines += ["", "classification of matched faces (rows true, columns predicted):", "  " + " ".join(f"{l[:12]:>12s}" for l in LABELS)]
        for label, row in zip(LABELS, cm):
            lines.append(f"  {' '.join(f'{v:12d}' for v in row)}   {label} (recall {row[LABELS.index(label)] / max(row.sum(), 1):.3f})")
        lines.append(f"\n{self.ms_per_image:.1f} ms per image (detect + classify)")
        if self.failed:
            lines.append(f"{len(self.failed)} image(s) could not be read")
        return "\n".join(lines)


def evaluate(detector, annotations: str, split: str | None = None, part: str | None = None, progress: bool = True,
             bootstrap: int = 0, seed: int = 0) -> EvalResult:
    """`bootstrap` > 0 also gives 95 % intervals of each AP50 from that many resamples of the photos."""
    from .imageio import read_image

    images = load_annotations(annotations, split, part)
    if not images:
        raise ValueError("no images to evaluate")
    gts, failed = [], []
    found: list[tuple] = []  # (image id, box, face score, probs, true class of the matched face or -1)
    size_found = {name: 0 for _, _, name in SIZE_BUCKETS}
    size_total = dict(size_found)
    n_det = n_tp = 0
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
            size_total[name] += 1
            if g in matched:
                size_found[name] += 1
                cm[LABELS.index(item.boxes[g][4]), LABELS.index(faces[matched[g]].label)] += 1
    n_ok = len(images) - len(failed)
    dets = _class_dets(found)
    ap_all, curves = coco_ap50(len(images), gts, dets, min_height=0)
    ap_20, _ = coco_ap50(len(images), gts, dets, min_height=20)
    ci = bootstrap_ap50(len(images), gts, dets, bootstrap, seed) if bootstrap > 0 else {}
    budget = {what: float(np.mean(list(coco_ap50(len(images), gts, _class_dets(found, without=what))[0].values())))
              for what in ERROR_KINDS}
    return EvalResult(
        n_images=len(images), n_boxes=len(gts), ap50=ap_all, ap50_min20=ap_20,
        recall_by_size={k: (size_found[k], size_total[k]) for k in size_total},
        face_precision=n_tp / n_det if n_det else 0.0, classification=cm.tolist(),
        ms_per_image=1000 * elapsed / max(n_ok, 1), failed=failed, pr_curves=curves,
        ap50_ci=ci, bootstrap=bootstrap if ci else 0, gts=gts, dets=dets, map50_without_error=budget,
    )


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
    a, b = _bootstrap_draws(n_images, gts, [dets_a, dets_b], resamples, seed)
    diff = np.array(b["mAP50"]) - np.array(a["mAP50"])
    if not diff.size:
        return {}
    return {"low": float(np.percentile(diff, 2.5)), "high": float(np.percentile(diff, 97.5)), "b_ahead": float(np.mean(diff > 0))}


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
        raise RuntimeError("evaluation needs faster-coco-eval: pip install 'maskwatch[eval]'") from None

    def xywh(x1, y1, x2, y2):
        return [float(x1), float(y1), float(x2 - x1), float(y2 - y1)]

    gt = {
        "images": [{"id": i, "width": 1, "height": 1} for i in range(1, n_images + 1)],
        "categories": [{"id": c + 1, "name": l} for c, l in enumerate(LABELS)],
        "annotations": [
            {"id": k + 1, "image_id": i, "bbox": xywh(x1, y1, x2, y2), "area": float((x2 - x1) * (y2 - y1)),
             "category_id": c + 1, "iscrowd": int((y2 - y1) < min_height)}
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
