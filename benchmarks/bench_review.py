"""A site that teaches its model, simulated on photos with known labels (#46).

ilc2021 `val` is split by photo into a reviewed half and a test half. The reviewed half goes
through the product's own commands: `maskwatch image --review STORE` keeps the faces the base
classifier is unsure of (and a few sure ones), `maskwatch review import` answers them as a
person would from the annotations, and `maskwatch train --reviews` fine-tunes the base on the
first N answers (N = 100, 200, all). `maskwatch evaluate --compare` then scores the base and each
new model on the test half and on kaggle-853 `test`, paired, with bootstrap intervals.

The base must not have seen ilc `val`: the shipped classifier was trained on it, so use the
val-free recipe (the model card's command without the `val` part):

    maskwatch train --data $D/prajna $D/mask-4k $D/kaggle-853/annotations.json:train \\
        $D/ilc2021/annotations.json:train --epochs 3 --seed 0 --non-faces --out runs/cls_noval.onnx
    python benchmarks/bench_review.py --base runs/cls_noval.onnx --out runs/bench_review
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def maskwatch(*args: str, log: Path) -> float:
    """Run one product command, its output appended to log; its wall time."""
    t0 = time.monotonic()
    with log.open("a") as fh:
        fh.write(f"\n$ maskwatch {' '.join(args[:12])}{' ...' if len(args) > 12 else ''}\n")
        fh.flush()
        r = subprocess.run([sys.executable, "-m", "maskwatch.cli", *args], stdout=fh, stderr=subprocess.STDOUT)
    if r.returncode not in (0, 1):
        sys.exit(f"maskwatch {args[0]} failed (exit {r.returncode}): see {log}")
    return time.monotonic() - t0


def split_halves(annotations: str, out: Path, max_photos: int | None = None) -> tuple[Path, Path, list[str]]:
    """The photos of `annotations` in two halves by a hash of their names (reviewed, test), written
    as annotation files with absolute paths; the reviewed half's photo paths."""
    from maskwatch.datasets import load_annotations

    images = load_annotations(annotations)
    halves: dict[str, list] = {"reviewed": [], "test": []}
    for im in images:
        h = int(hashlib.sha256(im.key.encode()).hexdigest(), 16) % 2
        halves["reviewed" if h == 0 else "test"].append(
            {"file": str(im.path.resolve()), "width": im.width, "height": im.height, "boxes": [list(b) for b in im.boxes]}
        )
    paths = []
    for name, entries in halves.items():
        entries = entries[:max_photos] if max_photos else entries
        p = out / f"{name}.json"
        p.write_text(json.dumps({"info": {"name": f"{annotations}, {name} half"}, "images": entries}))
        paths.append(p)
    reviewed = halves["reviewed"][:max_photos] if max_photos else halves["reviewed"]
    return paths[0], paths[1], [e["file"] for e in reviewed]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", required=True, help="the classifier the site starts with (must not have seen --annotations)")
    ap.add_argument("--annotations", default=str(DATA / "ilc2021" / "annotations.json") + ":val")
    ap.add_argument("--kaggle", default=str(DATA / "kaggle-853" / "annotations.json") + ":test", help="'' to skip")
    ap.add_argument("--out", default="runs/bench_review")
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 200, 0], help="answers to learn from (0: all)")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--replay", nargs="*", help="replay sources (default: the base model's trained_on)")
    ap.add_argument(
        "--replay-pack",
        help="replay a pack of crops (maskwatch train --data ... --non-faces --save-pack): loads in seconds, with non-faces",
    )
    ap.add_argument("--bootstrap", type=int, default=200)
    ap.add_argument(
        "--keep",
        choices=["unsure", "all"],
        default="all",
        help="faces queued: the product's default (the unsure ones and a few sure ones) or every face, the least sure "
        "answered first (default: all: the reviewed half of ilc val is small)",
    )
    ap.add_argument("--json", help="write the figures here (default: OUT/results.json)")
    ap.add_argument("--reuse-store", help="train and score again on the answers of an earlier run's store (OUT/store)")
    ap.add_argument("--train-args", default="", help="more options for maskwatch train, e.g. '--tail-layers 3'")
    ap.add_argument("--max-photos", type=int, help="use only this many photos of each half (a quick check of the plumbing)")
    args = ap.parse_args()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = out / "log.txt"
    store = out / "store"
    timings = {}
    if args.reuse_store:  # the answers of an earlier run: only the training and scoring again
        store = Path(args.reuse_store)
        reviewed, test = store.parent / "reviewed.json", store.parent / "test.json"
        photos = []
    elif store.exists():
        sys.exit(f"{store} exists: give a new --out (the store is the site's state), or --reuse-store {store}")
    else:
        reviewed, test, photos = split_halves(args.annotations, out, args.max_photos)
        print(f"photos: {len(photos)} reviewed, the rest in {test.name}", flush=True)
    if photos:
        timings["queue_s"] = maskwatch(
            "image",
            *photos,
            "--classifier",
            args.base,
            "--no-save",
            "-q",
            "--review",
            str(store),
            "--review-per-hour",
            "100000",
            "--review-keep",
            args.keep,
            log=log,
        )
        timings["import_s"] = maskwatch("review", "import", str(store), "--annotations", str(reviewed), log=log)
    from maskwatch.review.store import ReviewStore

    counts = ReviewStore(store, create=False).counts()
    print(f"store: {counts['faces']} faces kept ({counts['why']}), {counts['answered']} answered {counts['labels']}", flush=True)

    models = []
    train_info = {}
    for n in args.sizes:
        name = f"site_{n or 'all'}.onnx"
        model = out / name
        extra = ["--limit", str(n)] if n else []
        replay = ["--pack", args.replay_pack] if args.replay_pack else ["--data", *args.replay] if args.replay else []
        t = maskwatch(
            "train",
            "--reviews",
            str(store),
            "--base",
            args.base,
            "--out",
            str(model),
            "--steps",
            str(args.steps),
            "--no-progress",
            *extra,
            *replay,
            *args.train_args.split(),
            log=log,
        )
        metrics = json.loads((out / f"site_{n or 'all'}_metrics.json").read_text())
        train_info[name] = {"seconds": round(t, 1), "answers": metrics["reviews"]["answers"], "held_out": metrics.get("held_out")}
        print(f"{name}: {metrics['reviews']['answers']} answers, trained in {t:.0f} s", flush=True)
        models.append(str(model))

    results = {"base": args.base, "counts": counts, "train": train_info, "timings": timings, "evaluate": {}}
    for label, ann in (("ilc_val_test_half", str(test)), ("kaggle_test", args.kaggle)):
        if not ann:
            continue
        jf = out / f"compare_{label}.json"
        t = maskwatch(
            "evaluate",
            "--annotations",
            ann,
            "--compare",
            args.base,
            *models,
            "--bootstrap",
            str(args.bootstrap),
            "--json",
            str(jf),
            log=log,
        )
        results["evaluate"][label] = json.loads(jf.read_text())
        results["timings"][f"evaluate_{label}_s"] = round(t, 1)
        print(f"\n{label} ({t:.0f} s):", flush=True)
        for name, m in results["evaluate"][label]["models"].items():
            line = f"  {name:28s} mAP50 {m['map50']:.3f}  " + "  ".join(f"{k} {v:.3f}" for k, v in m["ap50"].items())
            vs = m.get("vs_first") or {}
            if vs:
                line += "\n    vs base: " + "  ".join(f"{k} {d['diff']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]" for k, d in vs.items())
            print(line, flush=True)
    target = Path(args.json) if args.json else out / "results.json"
    target.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {target}")


if __name__ == "__main__":
    main()
