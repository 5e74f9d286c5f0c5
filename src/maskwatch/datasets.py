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


def load_unboxed(path: str | Path) -> dict[str, list[tuple[float, float, float, float]]]:
    """Faces an annotations.json leaves out, from a JSON file {"images": [{"file": ..., "boxes":
    [[x1, y1, x2, y2], ...]}]} (files named as in annotations.json): image key -> boxes."""
    try:
        data = json.loads(Path(path).read_text())
        out: dict[str, list[tuple[float, float, float, float]]] = {}
        for img in data["images"]:
            out.setdefault(str(img["file"]), []).extend(tuple(float(v) for v in b[:4]) for b in img["boxes"])
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise ValueError(
            f'{path} is not a list of unboxed faces ({{"images": [{{"file": ..., "boxes": [[x1, y1, x2, y2], ...]}}]}}): {exc}'
        ) from None
    return out
