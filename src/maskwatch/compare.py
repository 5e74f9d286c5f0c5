"""Models compared on the same photos: each against the first, on the same bootstrap resamples
of the photos (a paired interval), which is how every recipe in the model card was chosen.

A model is named CLASSIFIER[+PARTS[:WEIGHT]][@DETECTOR[@single]]: a classifier .onnx (or
`shipped`), optionally a part check .onnx (or `off`) and its weight, optionally a face detector
name or .onnx, optionally `single` for one detector pass (no coarse pass).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .evaluate import EvalResult, evaluate, paired_differences
from .types import LABELS


@dataclass(frozen=True)
class ModelSpec:
    classifier: str | None  # None: the shipped one
    detector: str | None  # None: the caller's default
    single_scale: bool = False
    parts: str | None = None  # a part check .onnx or "off"; None: the caller's default
    part_weight: float | None = None

    @classmethod
    def parse(cls, text: str) -> "ModelSpec":
        models, _, rest = text.partition("@")
        detector, _, mode = rest.partition("@")
        if mode not in ("", "single"):
            raise ValueError(f"{text}: the third part of CLASSIFIER@DETECTOR@MODE can only be 'single'")
        classifier, _, parts = models.partition("+")
        parts, _, weight = parts.partition(":")
        w = None
        if weight:
            try:
                w = float(weight)
            except ValueError:
                raise ValueError(f"{text}: the part check's weight must be a number, got {weight!r}") from None
        return cls(None if classifier in ("", "shipped") else classifier, detector or None, mode == "single", parts or None, w)

    def name(self) -> str:
        first = Path(self.classifier).name if self.classifier else "shipped"
        if self.parts:
            first += (
                "+"
                + (Path(self.parts).name if self.parts != "off" else "off")
                + (f":{self.part_weight:g}" if self.part_weight is not None else "")
            )
        parts = [first]
        if self.detector or self.single_scale:
            parts.append(Path(self.detector).name if self.detector else "shipped")
        return "@".join(parts + (["single"] if self.single_scale else []))


@dataclass
class Comparison:
    name: str
    result: EvalResult
    # From the second model on: AP50 difference to the first per class and for "mAP50", with its
    # 95 % paired interval ("low", "high") and the share of resamples it came out ahead ("b_ahead").
    vs_first: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        out = {"ap50": self.result.ap50, "map50": self.result.map50, "vs_first": self.vs_first}
        if self.result.corrected:  # say that these figures are against corrected annotations
            out["corrections"] = dict(zip(("detections_ignored", "unboxed_faces_listed", "labels_corrected"), self.result.corrected))
        return out


def compare(
    specs: list[ModelSpec],
    make_detector,
    annotations: str,
    split: str | None = None,
    part: str | None = None,
    resamples: int = 200,
    on_result=None,
    corrections=None,
) -> list[Comparison]:
    """`make_detector(spec)` builds the pipeline for a spec; `on_result(comparison)` is called as
    each model finishes (they take a while each); `corrections` as for evaluate()."""
    out: list[Comparison] = []
    for spec in specs:
        r = evaluate(make_detector(spec), annotations, split, part, progress=False, corrections=corrections)
        c = Comparison(spec.name(), r)
        if out:
            ref = out[0].result
            c.vs_first = paired_differences(r.n_images, ref.gts, ref.dets, r.dets, resamples)
            for key in c.vs_first:
                c.vs_first[key]["diff"] = (r.map50 - ref.map50) if key == "mAP50" else (r.ap50[key] - ref.ap50[key])
        out.append(c)
        if on_result:
            on_result(c)
    return out


def format_header() -> str:
    return f"{'model':40s} " + " ".join(f"{label[:12]:>12s}" for label in LABELS) + f" {'mAP50':>7s}  vs first: diff [95 % paired]  ahead"


def format_row(c: Comparison) -> str:
    line = f"{c.name[-40:]:40s} " + " ".join(f"{c.result.ap50[label]:12.3f}" for label in LABELS) + f" {c.result.map50:7.4f}"
    if c.vs_first:
        d = c.vs_first["mAP50"]
        line += f"  {d['diff']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}]  {d['b_ahead']:.2f}"
        line += "".join(
            f"\n{'':4s}{label:36s} {c.vs_first[label]['diff']:+.4f} "
            f"[{c.vs_first[label]['low']:+.4f}, {c.vs_first[label]['high']:+.4f}]  {c.vs_first[label]['b_ahead']:.2f}"
            for label in LABELS
            if label in c.vs_first
        )
    return line
