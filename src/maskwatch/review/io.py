"""Answers from an annotation file (`review import`), and the answers out as training data
(`review export`): class folders of crops, a box-annotated JSON as `maskwatch train` and
`evaluate` read it, and COCO."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from ..boxes import greedy_match, iou_matrix
from ..datasets import canonical_label, load_annotations
from ..types import LABELS, NOT_A_FACE
from .store import ReviewStore

MATCH_IOU = 0.5


def read_boxes(path: str) -> dict[str, list[tuple[float, float, float, float, str]]]:
    """{real path of a photo: [(x1, y1, x2, y2, label), ...]} from `maskwatch evaluate`'s
    annotations.json (also FILE:PART) or a COCO JSON (images, annotations, categories)."""
    file = Path(path.rsplit(":", 1)[0] if path.rsplit(":", 1)[0].endswith(".json") else path)
    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read annotations {path}: {exc}") from None
    if isinstance(data, dict) and "annotations" in data and "categories" in data:
        return _read_coco(file, data)
    return {os.path.realpath(a.path): list(a.boxes) for a in load_annotations(path)}


def _read_coco(file: Path, data: dict) -> dict:
    try:
        names = {c["id"]: canonical_label(c["name"]) for c in data["categories"]}
        images = {im["id"]: os.path.realpath(file.parent / im["file_name"]) for im in data["images"]}
        out: dict[str, list] = {p: [] for p in images.values()}
        for a in data["annotations"]:
            x, y, w, h = (float(v) for v in a["bbox"])
            out[images[a["image_id"]]].append((x, y, x + w, y + h, names[a["category_id"]]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(
            f"{file}: not a COCO file maskwatch can read ({type(exc).__name__}: {exc}); expected images, annotations with bbox, categories"
        ) from None
    return out


def import_answers(store: ReviewStore, annotations: str, unmatched: str | None = None) -> dict:
    """Label each open face that overlaps an annotated box at IoU >= 0.5 (one face per box, the
    best overlap first). `unmatched="not_a_face"`: open faces in an annotated photo that overlap
    no box are answered not-a-face (only for files that box every face)."""
    boxes = read_boxes(annotations)
    by_name: dict[str, list[str]] = {}
    for p in boxes:
        by_name.setdefault(os.path.basename(p), []).append(p)
    open_faces = store.faces(answered=False)
    per_photo: dict[str, list[dict]] = {}
    for f in open_faces:
        real = os.path.realpath(f["source"]) if "://" not in f["source"] else f["source"]
        if real not in boxes:  # the same photo elsewhere: by its name, when that is unique
            same = by_name.get(os.path.basename(f["source"]), [])
            real = same[0] if len(same) == 1 else None
        if real is not None:
            per_photo.setdefault(real, []).append(f)
    labels: dict[int, str] = {}
    missed = 0
    for photo, faces in per_photo.items():
        truth = boxes[photo]
        if not truth:
            missed += len(faces)
            if unmatched == NOT_A_FACE:
                labels.update({f["id"]: NOT_A_FACE for f in faces})
            continue
        found = np.array([f["box"] for f in faces], float)
        gt = np.array([b[:4] for b in truth], float)
        pairs = greedy_match(iou_matrix(gt, found), MATCH_IOU)  # (box, face) pairs
        hit = set()
        for g, d in pairs:
            labels[faces[d]["id"]] = truth[g][4]
            hit.add(d)
        for d, f in enumerate(faces):
            if d not in hit:
                missed += 1
                if unmatched == NOT_A_FACE:
                    labels[f["id"]] = NOT_A_FACE
    if not labels:
        raise ValueError(
            f"{annotations}: matched none of the store's {len(open_faces)} open face(s) "
            f"({len(per_photo)} of their photos are in the file): check that it names the same photos"
        )
    store.label_many(labels, client=f"import:{annotations}")
    return {
        "labelled": len(labels),
        "open_before": len(open_faces),
        "photos": len(per_photo),
        "unmatched": missed,
        "not_in_file": len(open_faces) - sum(map(len, per_photo.values())),
    }


def export_answers(store: ReviewStore, out: str | Path) -> dict:
    """Write the answered faces: OUT/classes/<label>/<id>.jpg (the crops, as `train --data`
    reads class folders; not-a-face answers in OUT/not_a_face), OUT/annotations.json (the reviewed boxes of each photo, the format `train`
    and `evaluate` read) and OUT/coco.json. Only the reviewed faces are boxed: fine for training,
    not a full annotation of the photos."""
    out = Path(out)
    faces = store.faces(answered=True)
    if not faces:
        raise ValueError(f"review store {store.path}: no answered faces to export")
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"{out}: exists and is not empty (export writes a new folder)")
    photos: dict[str, dict] = {}
    for f in faces:
        # Class folders under classes/ (what `train --data` reads); not-a-face answers beside it.
        folder = out / NOT_A_FACE if f["label"] == NOT_A_FACE else out / "classes" / f["label"]
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(store.crop_path(f["id"]), folder / f"{f['id']}.jpg")
        if f["label"] in LABELS and "://" not in f["source"] and f["frame"] is None:
            entry = photos.setdefault(f["source"], {"file": f["source"], "width": f["width"], "height": f["height"], "boxes": []})
            entry["boxes"].append([*f["box"], f["label"]])
    ann = {"info": {"name": f"maskwatch review export of {store.path}"}, "categories": list(LABELS), "images": list(photos.values())}
    (out / "annotations.json").write_text(json.dumps(ann, indent=1))
    coco = {"images": [], "annotations": [], "categories": [{"id": i + 1, "name": label} for i, label in enumerate(LABELS)]}
    for i, entry in enumerate(photos.values(), 1):
        coco["images"].append({"id": i, "file_name": entry["file"], "width": entry["width"], "height": entry["height"]})
        for b in entry["boxes"]:
            x1, y1, x2, y2, label = b
            coco["annotations"].append(
                {
                    "id": len(coco["annotations"]) + 1,
                    "image_id": i,
                    "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "area": (x2 - x1) * (y2 - y1),
                    "category_id": LABELS.index(label) + 1,
                    "iscrowd": 0,
                }
            )
    (out / "coco.json").write_text(json.dumps(coco))
    return {"faces": len(faces), "photos": len(photos)}
