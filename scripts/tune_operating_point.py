"""Choose the photo operating point (#29): which boxes a user sees, at every face size.

Two steps. `dump` runs the detector once per photo down to a detector score of 0.05 and keeps, per
candidate box, what any face score could be made of (detector score, the classifier's face
probability, class probabilities, box height) with the annotated faces, in an .npz. `compare`
then scores face-score rules on those dumps with no model run: recall per class and per face-size
band and precision at each rule's threshold, AP50 over all detections, and intervals paired over
photo resamples against the rule shipped before.

    python scripts/tune_operating_point.py dump --annotations runs/k853/annotations.json:holdout \
        --detector runs/det_fit.onnx --classifier runs/cls_fit.onnx --out runs/op_holdout.npz
    python scripts/tune_operating_point.py compare --choose runs/op_holdout.npz runs/op_val.npz \
        --report runs/op_test.npz
    python scripts/tune_operating_point.py curve runs/op_test.npz
    python scripts/tune_operating_point.py ceiling runs/op_test.npz

`ceiling` asks whether any re-scoring of a dump's candidates could reach recall targets at a
precision: it fits a gradient-boosted model (scikit-learn) on the dump's own candidates, every
feature a rule could use (detector score, face and class probabilities, box size and shape, and
the photo's context: how many sure faces, their size), cross-validated over photos, and prints the
best precision at which the targets hold. It learns on the very photos it is scored on, so it is an
optimistic bound, not a rule to ship: where it falls short, no rule of these features reaches them.

`dump --corrections FILE` scores against corrected annotations: a candidate on a face listed as
unboxed there counts as neither found nor false (`maskwatch evaluate --corrections`), in the
recall and precision figures (not in the AP, which stays against the plain annotations).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from maskwatch.boxes import greedy_match, iou_matrix  # noqa: E402
from maskwatch.evaluate import SIZE_BUCKETS, coco_ap50, paired_differences  # noqa: E402
from maskwatch.face_score import SizeTrust, face_scores  # noqa: E402
from maskwatch.types import LABELS  # noqa: E402

FLOOR = 0.05  # the evaluation preset's lowest face score: AP ranks everything above it


def dump(args) -> None:
    from tqdm import tqdm

    from maskwatch.datasets import load_annotations, load_corrections
    from maskwatch.imageio import read_image
    from maskwatch.pipeline import Detector
    from maskwatch.settings import EVALUATION

    d = Detector(EVALUATION, detector=args.detector, classifier=args.classifier)
    unboxed = load_corrections(args.corrections).unboxed if args.corrections else {}
    rows, gts, ignore = [], [], []
    images = load_annotations(args.annotations)
    for img_id, item in enumerate(tqdm(images, unit="img", disable=not sys.stderr.isatty()), start=1):
        for x1, y1, x2, y2, label in item.boxes:
            gts.append((img_id, x1, y1, x2, y2, LABELS.index(label)))
        image = read_image(item.path)
        found = d.find_faces(image)
        probs, face = d.classifier.predict_with_faceness(image, found.xyxy)
        for box, det, f, p in zip(found.xyxy, found.scores, face, probs):
            rows.append((img_id, *box, det, f, *p))
        # With corrections: a candidate on a real face the annotations leave out is not a false
        # box (if it matches no annotated face), as in `maskwatch evaluate --corrections`.
        listed = np.array(unboxed.get(item.key, []), np.float64).reshape(-1, 4)
        on_unboxed = iou_matrix(found.xyxy, listed).max(1) >= 0.5 if len(listed) and len(found.xyxy) else np.zeros(len(found.xyxy), bool)
        ignore += list(on_unboxed)
    np.savez(
        args.out,
        rows=np.array(rows, np.float64).reshape(-1, 7 + len(LABELS)),
        gts=np.array(gts, np.float64).reshape(-1, 6),
        n_images=len(images),
        ignore=np.array(ignore, bool),
        about=json.dumps(
            {"annotations": args.annotations, "detector": args.detector, "classifier": args.classifier, "corrections": args.corrections}
        ),
    )
    print(f"{len(images)} photos, {len(rows)} candidate boxes -> {args.out}")


class Dump:
    def __init__(self, path: str):
        z = np.load(path)
        self.name = Path(path).stem
        self.rows, self.gts, self.n = z["rows"], z["gts"], int(z["n_images"])
        self.img = self.rows[:, 0].astype(int)
        self.box = self.rows[:, 1:5]
        self.det, self.face, self.probs = self.rows[:, 5], self.rows[:, 6], self.rows[:, 7:]
        self.ignore = z["ignore"] if "ignore" in z else np.zeros(len(self.rows), bool)
        self.height = self.box[:, 3] - self.box[:, 1]
        g_img = self.gts[:, 0].astype(int)
        self.by_image = {i: (np.flatnonzero(self.img == i), np.flatnonzero(g_img == i)) for i in range(1, self.n + 1)}
        # Which annotated face each candidate would take if it were kept alone is not enough
        # (kept boxes compete), so matching is redone per threshold in `stats`.


def stats(dump: Dump, scores: np.ndarray, threshold: float, pick=None) -> dict:
    """Recall per class / size band and precision of the boxes with score >= threshold (IoU 0.5,
    class-agnostic greedy matching as `maskwatch evaluate`), over the photos `pick` (default all)."""
    found = np.zeros((len(LABELS),), int)
    total = np.zeros((len(LABELS),), int)
    band_found = np.zeros(len(SIZE_BUCKETS), int)
    band_total = np.zeros(len(SIZE_BUCKETS), int)
    kept_n = tp = 0
    for i in range(1, dump.n + 1) if pick is None else pick:
        di, gi = dump.by_image[int(i)]
        di = di[scores[di] >= threshold]
        g = dump.gts[gi]
        cls = g[:, 5].astype(int)
        h = g[:, 4] - g[:, 2]
        band = np.searchsorted([hi for _, hi, _ in SIZE_BUCKETS], h, side="right")
        np.add.at(total, cls, 1)
        np.add.at(band_total, band, 1)
        kept_n += len(di)
        pairs = greedy_match(iou_matrix(g[:, 1:5], dump.box[di]), 0.5) if len(di) and len(gi) else []
        unmatched = np.setdiff1d(np.arange(len(di)), [c for _, c in pairs])
        kept_n -= int(dump.ignore[di[unmatched]].sum())  # on faces nobody boxed: neither found nor false
        if pairs:
            m = np.array([r for r, _ in pairs], int)
            tp += len(m)
            np.add.at(found, cls[m], 1)
            np.add.at(band_found, band[m], 1)
    return {
        "recall": found.sum() / max(total.sum(), 1),
        **{f"recall_{l}": found[k] / max(total[k], 1) for k, l in enumerate(LABELS)},
        **{f"recall_{name}px": band_found[k] / max(band_total[k], 1) for k, (_, _, name) in enumerate(SIZE_BUCKETS)},
        "precision": tp / max(kept_n, 1),
    }


def class_dets(dump: Dump, scores: np.ndarray, floor: float = FLOOR) -> list[tuple]:
    keep = np.flatnonzero(scores >= floor)
    return [(int(dump.img[k]), *dump.box[k], c, float(scores[k] * dump.probs[k, c])) for k in keep for c in range(len(LABELS))]


def rules() -> dict[str, list]:
    """Each design and its parameter grid: (label, rule) with rule a SizeTrust or per-band thresholds."""
    out = {"product (as shipped)": [("det x face", SizeTrust(0, 0))]}
    out["face prob trusted by size"] = [
        (f"trust from {a} to {b} px", SizeTrust(a, b)) for a, b in itertools.product((0, 8, 12, 16, 20), (24, 32, 48, 64, 96)) if b > a
    ]
    return out


def crowd_threshold(dump: Dump, product: np.ndarray, least: int, t_crowd: float, t: float = 0.25) -> np.ndarray:
    """A lower threshold in photos with at least `least` sure faces (product >= 0.5), where more of
    the low-scored boxes are faces; rescaled so that the threshold `t` applies."""
    out = product.copy()
    for di, _ in dump.by_image.values():
        if len(di) and (product[di] >= 0.5).sum() >= least:
            out[di] = product[di] * t / t_crowd
    return out


def bare_threshold(dump: Dump, product: np.ndarray, t_bare: float, t: float = 0.25) -> np.ndarray:
    """A lower threshold for boxes labelled without_mask (the class the default loses most)."""
    bare = dump.probs.argmax(1) == LABELS.index("without_mask")
    return np.where(bare, product * t / t_bare, product)


def band_thresholds(dump: Dump, product: np.ndarray, ts: tuple[float, ...]) -> np.ndarray:
    """A threshold per SIZE_BUCKETS band, expressed as a rescaled score so that one threshold (the
    last band's) applies: score * t_last / t_band."""
    band = np.searchsorted([hi for _, hi, _ in SIZE_BUCKETS], dump.height, side="right")
    return product * ts[-1] / np.array(ts)[band]


def true_candidates(dump: Dump) -> np.ndarray:
    """Per candidate: 1 if it takes an annotated face (IoU 0.5, greedy by face score, as `stats`
    with every candidate kept), -1 if it is on a face nobody boxed (left out of fitting), else 0."""
    y = np.zeros(len(dump.rows), int)
    product = dump.det * dump.face
    for di, gi in dump.by_image.values():
        if len(di) and len(gi):
            order = di[np.argsort(-product[di])]
            y[[order[c] for _, c in greedy_match(iou_matrix(dump.gts[gi][:, 1:5], dump.box[order]), 0.5)]] = 1
    y[dump.ignore & (y == 0)] = -1
    return y


def candidate_features(dump: Dump) -> np.ndarray:
    """What any face-score rule could use, per candidate: its own scores and shape, and its photo's
    context (sure faces there, their typical size, where the box ranks), which tells a crowd of
    small faces from a portrait with a hand in it."""
    product = dump.det * dump.face
    log_h = np.log(np.maximum(dump.height, 1.0))
    width = dump.box[:, 2] - dump.box[:, 0]
    sure, found, rel_h, rank = (np.zeros(len(product)) for _ in range(4))
    for di, _ in dump.by_image.values():
        if len(di):
            s = product[di] >= 0.5
            sure[di], found[di] = s.sum(), len(di)
            rel_h[di] = log_h[di] - np.median(log_h[di][s] if s.any() else log_h[di])
            rank[di] = np.argsort(np.argsort(-product[di]))
    aspect = np.log(np.maximum(width, 1.0) / np.maximum(dump.height, 1.0))
    return np.column_stack([dump.det, dump.face, product, dump.probs, log_h, aspect, np.log1p(sure), np.log1p(found), rel_h, rank])


def learned_scores(dump: Dump, folds: int = 5, repeats: int = 3) -> np.ndarray:
    """Out-of-fold probabilities that each candidate is a true face, from a gradient-boosted model
    fitted on the other photos' candidates of the same dump (averaged over `repeats` splits)."""
    try:
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.model_selection import GroupKFold
    except ImportError:
        raise SystemExit("ceiling needs scikit-learn: pip install -e '.[eval]'") from None
    X, y = candidate_features(dump), true_candidates(dump)
    out = np.zeros(len(y))
    for rep in range(repeats):
        groups = np.random.default_rng(rep).permutation(dump.n + 1)[dump.img]  # photos shuffled into folds
        for fit, held in GroupKFold(folds).split(X, y, groups):
            fit = fit[y[fit] >= 0]
            model = HistGradientBoostingClassifier(
                max_iter=200, learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=20, random_state=rep
            )
            out[held] += model.fit(X[fit], y[fit]).predict_proba(X[held])[:, 1] / repeats
    return np.where(dump.det * dump.face >= FLOOR, out, 0.0)  # the same candidates as the product's floor


def best_precision(dump: Dump, scores: np.ndarray, recall: float, recall_without: float) -> tuple[float, dict] | None:
    """The threshold on `scores` with the highest precision at which both recall targets hold."""
    best = None
    for t in np.unique(np.quantile(scores[scores > 0], np.linspace(0, 1, 201))):
        s = stats(dump, scores, t)
        if s["recall"] >= recall and s["recall_without_mask"] >= recall_without and (best is None or s["precision"] > best[1]["precision"]):
            best = (float(t), s)
    return best


def ceiling(args) -> None:
    for path in args.dumps:
        d = Dump(path)
        learned = learned_scores(d, args.folds, args.repeats)
        print(f"{d.name} ({d.n} photos, {len(d.gts)} faces): targets recall >= {args.recall}, without_mask >= {args.recall_without}")
        for name, scores in (
            ("det x face (as shipped)", d.det * d.face),
            ("learned from this dump's own photos, cross-validated", learned),
        ):
            best = best_precision(d, scores, args.recall, args.recall_without)
            if best is None:
                print(f"  {name}: no threshold reaches both recall targets")
            else:
                print(f"  {name}: at best, threshold {best[0]:.3f}: " + _fmt(best[1]))
        for t in args.thresholds:
            print(f"  learned >= {t:<5} " + _fmt(stats(d, learned, t)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("dump")
    p.add_argument("--annotations", required=True)
    p.add_argument("--detector", default="finetuned")
    p.add_argument("--classifier")
    p.add_argument("--out", required=True)
    p.add_argument("--corrections", help="a corrections file (faces nobody boxed), as for maskwatch evaluate --corrections")
    p = sub.add_parser("compare")
    p.add_argument("--choose", nargs="+", required=True, help="dumps to choose on (training holdouts)")
    p.add_argument("--report", nargs="*", default=[], help="dumps only reported (test)")
    p.add_argument("--thresholds", type=float, nargs="+", default=[0.1, 0.125, 0.15, 0.175, 0.2, 0.225, 0.25, 0.3, 0.35])
    p.add_argument("--min-precision", type=float, nargs="+", help="per --choose dump: the least precision allowed")
    p.add_argument("--bootstrap", type=int, default=200)
    p.add_argument("--json", help="write every rule's figures here")
    p = sub.add_parser("curve", help="the product rule's recall and precision at each threshold, per dump")
    p.add_argument("dumps", nargs="+")
    p.add_argument("--thresholds", type=float, nargs="+", default=[0.05, 0.075, 0.1, 0.125, 0.15, 0.2, 0.25, 0.3])
    p = sub.add_parser("ceiling", help="the best precision any re-scoring of a dump's candidates could reach at given recalls")
    p.add_argument("dumps", nargs="+")
    p.add_argument("--recall", type=float, default=0.92, help="overall recall target (#29: 0.92)")
    p.add_argument("--recall-without", type=float, default=0.85, help="without_mask recall target (#29: 0.85)")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--thresholds", type=float, nargs="+", default=[0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    args = ap.parse_args()
    if args.cmd == "ceiling":
        return ceiling(args)
    if args.cmd == "dump":
        return dump(args)
    if args.cmd == "curve":
        for path in args.dumps:
            d = Dump(path)
            print(f"{d.name} ({d.n} photos, {len(d.gts)} faces, {int(d.ignore.sum())} candidates on faces nobody boxed):")
            for t in args.thresholds:
                print(f"  >= {t:<6} " + _fmt(stats(d, d.det * d.face, t)))
        return None
    compare(args)


def compare(args) -> None:
    choose = [Dump(p) for p in args.choose]
    report = [Dump(p) for p in args.report]
    base = {d.name: stats(d, face_scores(d.det, d.face, d.height, SizeTrust(0, 0)), 0.25) for d in choose}
    floors = args.min_precision or [base[d.name]["precision"] for d in choose]
    print("the rule shipped before (det x face >= 0.25):")
    for d in choose + report:
        s = stats(d, face_scores(d.det, d.face, d.height, SizeTrust(0, 0)), 0.25)
        print(f"  {d.name:14s} " + _fmt(s))
    print("least precision allowed on each choice set: " + ", ".join(f"{d.name} {f:.3f}" for d, f in zip(choose, floors)))
    table = []
    for design, grid in rules().items():
        for label, rule in grid:
            for t in args.thresholds:
                figs = {d.name: stats(d, face_scores(d.det, d.face, d.height, rule), t) for d in choose}
                ok = all(figs[d.name]["precision"] >= f for d, f in zip(choose, floors))
                # The aim: more of the faces found, bare ones most of all, at no loss of precision.
                goal = np.mean([figs[d.name]["recall"] + figs[d.name]["recall_without_mask"] for d in choose])
                table.append(
                    {
                        "design": design,
                        "rule": label,
                        "trust": [rule.untrusted_px, rule.trusted_px],
                        "threshold": t,
                        "ok": ok,
                        "goal": goal,
                        "figures": figs,
                    }
                )
    # Per-band thresholds on the product: a coarse grid (4 bands) for the small bands only.
    for ts in itertools.product((0.1, 0.15, 0.2, 0.25), (0.15, 0.2, 0.25), (0.2, 0.25), (0.25,)):
        figs = {d.name: stats(d, band_thresholds(d, d.det * d.face, ts), ts[-1]) for d in choose}
        ok = all(figs[d.name]["precision"] >= f for d, f in zip(choose, floors))
        goal = np.mean([figs[d.name]["recall"] + figs[d.name]["recall_without_mask"] for d in choose])
        table.append(
            {
                "design": "threshold per size band",
                "rule": "bands " + "/".join(map(str, ts)),
                "bands": ts,
                "threshold": ts[-1],
                "ok": ok,
                "goal": goal,
                "figures": figs,
            }
        )
    for least, tc in itertools.product((3, 5, 8), (0.1, 0.15, 0.2)):
        figs = {d.name: stats(d, crowd_threshold(d, d.det * d.face, least, tc), 0.25) for d in choose}
        table.append(
            _row("lower threshold in crowds", f"{tc} in photos with >= {least} sure faces", 0.25, figs, choose, floors, crowd=(least, tc))
        )
    for tb in (0.05, 0.1, 0.15, 0.2):
        figs = {d.name: stats(d, bare_threshold(d, d.det * d.face, tb), 0.25) for d in choose}
        table.append(_row("lower threshold for bare faces", f"{tb} for boxes labelled without_mask", 0.25, figs, choose, floors, bare=tb))
    print(f"\n{len(table)} rule x threshold points; the best of each design that keeps precision:")
    best = {}
    for row in sorted(table, key=lambda r: -r["goal"]):
        if row["ok"] and row["design"] not in best:
            best[row["design"]] = row
    for design in dict.fromkeys(r["design"] for r in table):
        if design not in best:
            near = max(
                (r for r in table if r["design"] == design),
                key=lambda r: min(r["figures"][d.name]["precision"] - f for d, f in zip(choose, floors)),
            )
            print(f"\n{design}: no point keeps the precision on every choice set; the nearest, {near['rule']}:")
            for d in choose:
                print(f"  {d.name:14s} " + _fmt(near["figures"][d.name]))
    for design, row in best.items():
        print(f"\n{design}: {row['rule']}, threshold {row['threshold']}")
        for d in choose + report:
            scores = _scores(d, row)
            print(f"  {d.name:14s} " + _fmt(stats(d, scores, row["threshold"])))
        for d in choose + report:
            a = class_dets(d, face_scores(d.det, d.face, d.height, SizeTrust(0, 0)))
            b = class_dets(d, _scores(d, row))
            ap_b, _ = coco_ap50(d.n, d.gts.tolist(), b)
            diff = paired_differences(d.n, d.gts.tolist(), a, b, args.bootstrap) if args.bootstrap else {}
            m = diff.get("mAP50", {})
            ci = f" vs as shipped [{m['low']:+.3f}, {m['high']:+.3f}]" if m else ""
            print(f"  {d.name:14s} mAP50 over all detections {np.mean(list(ap_b.values())):.4f}{ci}")
        # Recall / precision at the operating point, paired against the old rule on photo resamples.
        for d in choose + report:
            print(f"  {d.name:14s} paired 95% intervals vs as shipped: " + _paired_op(d, row, args.bootstrap))
    if args.json:
        Path(args.json).write_text(json.dumps(table, indent=1, default=float))


def _row(design, rule, threshold, figs, choose, floors, **extra) -> dict:
    ok = all(figs[d.name]["precision"] >= f for d, f in zip(choose, floors))
    goal = np.mean([figs[d.name]["recall"] + figs[d.name]["recall_without_mask"] for d in choose])
    return {"design": design, "rule": rule, "threshold": threshold, "ok": ok, "goal": goal, "figures": figs, **extra}


def _scores(d: Dump, row: dict) -> np.ndarray:
    if "crowd" in row:
        return crowd_threshold(d, d.det * d.face, *row["crowd"])
    if "bare" in row:
        return bare_threshold(d, d.det * d.face, row["bare"])
    if "bands" in row:
        return band_thresholds(d, d.det * d.face, row["bands"])
    return face_scores(d.det, d.face, d.height, SizeTrust(*row["trust"]))


def _paired_op(d: Dump, row: dict, resamples: int) -> str:
    rng = np.random.default_rng(0)
    old = face_scores(d.det, d.face, d.height, SizeTrust(0, 0))
    new = _scores(d, row)
    keys = ("recall", "recall_without_mask", "precision")
    diffs = {k: [] for k in keys}
    for _ in range(max(resamples // 4, 20)):  # matching per draw is slower than AP: fewer draws
        pick = rng.integers(1, d.n + 1, d.n)
        a, b = stats(d, old, 0.25, pick), stats(d, new, row["threshold"], pick)
        for k in keys:
            diffs[k].append(b[k] - a[k])
    return ", ".join(f"{k} [{np.percentile(v, 2.5):+.3f}, {np.percentile(v, 97.5):+.3f}]" for k, v in diffs.items())


def _fmt(s: dict) -> str:
    return (
        f"recall {s['recall']:.3f} (with {s['recall_with_mask']:.3f} / without {s['recall_without_mask']:.3f} / "
        f"incorrect {s['recall_mask_worn_incorrectly']:.3f}; <20px {s['recall_<20px']:.3f}, 20-31 {s['recall_20-31px']:.3f}, "
        f"32-63 {s['recall_32-63px']:.3f}, >=64 {s['recall_>=64px']:.3f}) precision {s['precision']:.3f}"
    )


if __name__ == "__main__":
    main()
