"""Box-annotated photo sets (the ../shared/data `annotations.json` format) and their splits."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .types import LABELS

# Names other datasets use for our labels.
LABEL_ALIASES = {
    "mask_weared_incorrect": "mask_worn_incorrectly",
    "mask_worn_incorrect": "mask_worn_incorrectly",
    "incorrect_mask": "mask_worn_incorrectly",
    "with_mask": "with_mask",
    "mask": "with_mask",
    "without_mask": "without_mask",
    "no_mask": "without_mask",
}


def canonical_label(name: str) -> str:
    label = LABEL_ALIASES.get(name, name)
    if label not in LABELS:
        raise ValueError(f"unknown label {name!r}: expected one of {', '.join(LABELS)} (or {', '.join(LABEL_ALIASES)})")
    return label


@dataclass(frozen=True)
class AnnotatedImage:
    path: Path
    key: str  # the file as named in annotations.json
    width: int
    height: int
    boxes: tuple[tuple[float, float, float, float, str], ...]  # x1, y1, x2, y2, canonical label


def parse_source(source: str | Path, split: str | Path | None = None, part: str | None = None):
    """`annotations.json:PART` names one part of the split.json beside it (so one command can take
    the `train` parts of several sets, whatever --split says); a plain path keeps the given split
    and part."""
    text = str(source)
    head, sep, tail = text.rpartition(":")
    if sep and head.endswith(".json") and tail and "/" not in tail:
        return Path(head), Path(head).parent / "split.json", tail
    return Path(text), split, part


def load_annotations(annotations: str | Path, split: str | Path | None = None, part: str | None = None) -> list[AnnotatedImage]:
    """Images of an annotations.json, optionally only those of one part of a split.json
    (also as `annotations.json:PART`, see parse_source)."""
    annotations, split, part = parse_source(annotations, split, part)
    try:
        data = json.loads(annotations.read_text())
        entries = data["images"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"cannot read annotations {annotations}: {exc}") from None
    wanted = None
    if split is not None:
        if part is None:
            raise ValueError("--split needs --part (e.g. train or test)")
        try:
            split_data = json.loads(Path(split).read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read split {split}: {exc}") from None
        if part not in split_data or not isinstance(split_data[part], list):
            parts = [k for k, v in split_data.items() if isinstance(v, list)]
            raise ValueError(f"split {split} has no part {part!r}; parts: {', '.join(parts)}")
        wanted = set(split_data[part])
    out = []
    for k, entry in enumerate(entries):
        try:
            if wanted is not None and entry["file"] not in wanted:
                continue
            boxes = tuple((float(b[0]), float(b[1]), float(b[2]), float(b[3]), canonical_label(b[4])) for b in entry["boxes"])
            out.append(AnnotatedImage(annotations.parent / entry["file"], entry["file"], int(entry["width"]), int(entry["height"]), boxes))
        except (KeyError, TypeError, IndexError, ValueError) as exc:
            what = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
            raise ValueError(
                f"{annotations}: image entry {k} is malformed ({what}); expected file, width, height "
                "and boxes [[x1, y1, x2, y2, label], ...]"
            ) from None
    return out


@dataclass(frozen=True)
class Corrections:
    """What a look at an annotations.json found wrong in it (`maskwatch evaluate --corrections`):
    per image key, real faces it leaves out (`unboxed`, xyxy) and faces whose label is wrong
    (`relabel`: the annotated box, xyxy, and the right label)."""

    unboxed: dict[str, list[tuple[float, float, float, float]]]
    relabel: dict[str, list[tuple[tuple[float, float, float, float], str]]]

    def apply(self, images: list[AnnotatedImage]) -> list[AnnotatedImage]:
        """`images` with the labels corrected; a correction that matches no annotated box
        (IoU >= 0.9 in its image) is an error, so a list made for other annotations is not silently half-used."""
        from dataclasses import replace

        import numpy as np

        from .boxes import iou_matrix

        out = []
        for item in images:
            fixes = self.relabel.get(item.key, [])
            boxes = list(item.boxes)
            for box, label in fixes:
                iou = iou_matrix(np.array([box], np.float64), np.array([b[:4] for b in boxes], np.float64).reshape(-1, 4))
                if not iou.size or iou.max() < 0.9:
                    raise ValueError(f"the correction of {item.key} box {list(box)} matches no annotated face there")
                k = int(iou.argmax())
                boxes[k] = (*boxes[k][:4], label)
            out.append(replace(item, boxes=tuple(boxes)) if fixes else item)
        return out


def _xyxy(box) -> tuple[float, float, float, float]:
    if len(box) < 4:
        raise ValueError(f"a box needs x1, y1, x2, y2, got {box}")
    return tuple(float(v) for v in box[:4])


def load_corrections(path: str | Path) -> Corrections:
    """Read a corrections file: {"images": [{"file": ..., "unboxed": [[x1, y1, x2, y2], ...],
    "relabel": [[x1, y1, x2, y2, label], ...]}]}, files named as in annotations.json."""
    unboxed: dict[str, list] = {}
    relabel: dict[str, list] = {}
    try:
        data = json.loads(Path(path).read_text())
        for img in data["images"]:
            key = str(img["file"])
            unboxed.setdefault(key, []).extend(_xyxy(b) for b in img.get("unboxed", []))
            relabel.setdefault(key, []).extend((_xyxy(b), canonical_label(b[4])) for b in img.get("relabel", []))
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise ValueError(
            f'{path} is not a corrections file ({{"images": [{{"file": ..., "unboxed": [[x1, y1, x2, y2], ...], '
            f'"relabel": [[x1, y1, x2, y2, label], ...]}}]}}): {exc}'
        ) from None
    return Corrections({k: v for k, v in unboxed.items() if v}, {k: v for k, v in relabel.items() if v})
