"""Write the `class_prior` metadata into a classifier trained before `maskwatch train` recorded it,
from that run's metrics JSON (its training counts and --balance; weights stay untouched).

    python scripts/stamp_class_prior.py runs/cls.onnx runs/cls_metrics.json

The prior is each class's share of the training draws: samples are drawn with weight
count(class) ** -balance, so a class's share is count ** (1 - balance), normalised. Runs with
--source-weights cannot be reconstructed this way (the share then depends on each source's mix).
"""

from __future__ import annotations

import argparse
import json


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("metrics", help="the *_metrics.json `maskwatch train` wrote beside the model")
    args = ap.parse_args()
    import onnx

    metrics = json.load(open(args.metrics))
    cfg = metrics["config"]
    if cfg.get("source_weights"):
        raise SystemExit(f"{args.metrics}: trained with --source-weights; the class shares cannot be rebuilt from counts")
    proto = onnx.load(args.model)
    meta = {p.key: p.value for p in proto.metadata_props}
    labels = json.loads(meta["labels"])
    counts = metrics["train_counts"]
    mass = {label: counts[label] ** (1 - cfg["balance"]) if counts.get(label) else 0.0 for label in labels}
    total = sum(mass.values())
    meta["class_prior"] = json.dumps({label: round(m / total, 6) for label, m in mass.items()})
    del proto.metadata_props[:]
    for k, v in meta.items():
        proto.metadata_props.add(key=k, value=v)
    onnx.save(proto, args.model)
    print(f"{args.model}: class_prior {meta['class_prior']}")


if __name__ == "__main__":
    main()
