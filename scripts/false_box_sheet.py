"""Contact sheets of the boxes an evaluation counts as false, to look at what they are (#29).

Reads a dump of `scripts/tune_operating_point.py dump` (every candidate box with its detector
score and face probability, and the annotated faces; one made with --corrections leaves out the
boxes on faces already listed) and draws, for the boxes with face score
(detector x face probability) in [--low, --high) that overlap no annotated face at IoU >= --iou,
a tile of the photo around each (the box drawn in yellow, annotated faces in green, 3x its size
for context), numbered, with a
list of the tiles in a JSON file so that a verdict per tile can be written next to it.

    python scripts/false_box_sheet.py runs/op_test.npz \
        --annotations ../shared/data/kaggle-853/annotations.json:test --out runs/sheet_test
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from maskwatch.boxes import iou_matrix  # noqa: E402
from maskwatch.datasets import load_annotations  # noqa: E402
from maskwatch.imageio import read_image  # noqa: E402

TILE = 150
COLUMNS = 8


def tile(photo: np.ndarray, box: np.ndarray, number: int, note: str, annotated: np.ndarray | None = None, size: int = TILE) -> np.ndarray:
    x1, y1, x2, y2 = box
    side = max(x2 - x1, y2 - y1) * 3.0
    side = max(side, 36.0)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    a, b = int(round(cx - side / 2)), int(round(cy - side / 2))
    s = int(round(side))
    h, w = photo.shape[:2]
    padded = cv2.copyMakeBorder(photo, s, s, s, s, cv2.BORDER_CONSTANT, value=(40, 40, 40))
    crop = padded[b + s : b + 2 * s, a + s : a + 2 * s]
    k = size / s
    out = cv2.resize(crop, (size, size), interpolation=cv2.INTER_CUBIC if k > 1 else cv2.INTER_AREA)
    p1 = (int((x1 - a) * k), int((y1 - b) * k))
    p2 = (int((x2 - a) * k), int((y2 - b) * k))
    for g in () if annotated is None else annotated:  # the annotated faces nearby, in green: a box beside one is not an unboxed face
        cv2.rectangle(out, (int((g[0] - a) * k), int((g[1] - b) * k)), (int((g[2] - a) * k), int((g[3] - b) * k)), (0, 200, 0), 1)
    cv2.rectangle(out, p1, p2, (0, 255, 255), 1)
    cv2.putText(out, str(number), (2, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 255), 1, cv2.LINE_AA)
    cv2.putText(out, note, (2, size - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.33, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dump")
    ap.add_argument("--annotations", required=True, help="the annotations the dump was made from")
    ap.add_argument("--low", type=float, default=0.05)
    ap.add_argument("--high", type=float, default=1.01)
    ap.add_argument("--iou", type=float, default=0.3, help="boxes overlapping an annotated face this much are left out")
    ap.add_argument("--per-sheet", type=int, default=40)
    ap.add_argument("--tile", type=int, default=TILE, help="tile side in px")
    ap.add_argument("--only", type=int, nargs="*", help="draw only these tiles (numbers of an earlier run), for a closer look")
    ap.add_argument("--out", required=True, help="folder for sheet_NN.png and tiles.json")
    args = ap.parse_args()

    z = np.load(args.dump)
    rows, gts = z["rows"], z["gts"]
    images = load_annotations(args.annotations)
    score = rows[:, 5] * rows[:, 6]
    # A dump made with --corrections marks the candidates on faces already listed as unboxed:
    # those were looked at before, so only the rest are drawn.
    listed = z["ignore"] if "ignore" in z else np.zeros(len(rows), bool)
    picked = []
    for img_id in np.unique(rows[:, 0].astype(int)):
        mine = np.flatnonzero((rows[:, 0] == img_id) & (score >= args.low) & (score < args.high) & ~listed)
        if not len(mine):
            continue
        g = gts[gts[:, 0] == img_id][:, 1:5]
        over = iou_matrix(rows[mine, 1:5], g).max(1) if len(g) else np.zeros(len(mine))
        picked += [(int(img_id), int(k), float(o)) for k, o in zip(mine, over) if o < args.iou]
    picked.sort(key=lambda t: -score[t[1]])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    listing, tiles = [], []
    cache: dict[int, np.ndarray] = {}
    for n, (img_id, k, over) in enumerate(picked):
        if args.only is not None and n not in args.only:
            continue
        item = images[img_id - 1]
        if img_id not in cache:
            cache = {img_id: read_image(item.path)}
        box = rows[k, 1:5]
        note = f"{score[k]:.2f} {box[3] - box[1]:.0f}px"
        tiles.append(tile(cache[img_id], box, n, note, gts[gts[:, 0] == img_id][:, 1:5], args.tile))
        listing.append(
            {
                "tile": n,
                "image": item.key,
                "box": [round(float(v), 1) for v in box],
                "height_px": round(float(box[3] - box[1]), 1),
                "face_score": round(float(score[k]), 4),
                "max_iou_annotated": round(over, 3),
            }
        )
    for s in range(0, len(tiles), args.per_sheet):
        page = tiles[s : s + args.per_sheet]
        page += [np.zeros_like(tiles[0])] * (-len(page) % COLUMNS)
        grid = np.vstack([np.hstack(page[r : r + COLUMNS]) for r in range(0, len(page), COLUMNS)])
        cv2.imwrite(str(out / f"sheet_{s // args.per_sheet:02d}.png"), grid)
    (out / "tiles.json").write_text(json.dumps({"dump": args.dump, "low": args.low, "high": args.high, "tiles": listing}, indent=1))
    print(f"{len(listing)} boxes with face score in [{args.low}, {args.high}) and IoU < {args.iou} with every annotated face -> {out}")


if __name__ == "__main__":
    main()
