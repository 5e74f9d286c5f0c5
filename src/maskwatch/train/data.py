"""Training samples: class folders and box-annotated photos, grouped so that validation does not leak.

Every sample is a face crop held in memory at a fixed size, with a group id: crops of one photo, a
photo and its edited copies (e.g. the same face with a pasted mask), and near-identical images
(by a 64-bit difference hash) share a group, and a group goes wholly to train or to validation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..boxes import greedy_match, iou_matrix
from ..crops import crop_face, dhash  # noqa: F401  (dhash: also this module's, for its callers)
from ..datasets import canonical_label, load_annotations, parse_source
from ..imageio import IMAGE_EXTS, read_image
from ..types import LABELS, NOT_A_FACE
from .synth import INCORRECT_KINDS, find_landmarks, mask_below_nose, wear_incorrectly

STORE_SIZE = 128  # crops are cached at this size; augmentation crops/scales to the input size
MIN_BOX_PX = 8  # annotated faces smaller than this carry no usable signal
NEAR_DUP_BITS = 4
# A detection is a non-face when it overlaps no annotated face by this much (IoU); between this and
# the 0.5 that counts as a hit it is a poorly placed face, which is neither.
NON_FACE_MAX_IOU = 0.3


@dataclass
class Samples:
    images: np.ndarray  # (n, S, S, 3) uint8 BGR
    labels: np.ndarray  # (n,) int64 index into classes
    groups: np.ndarray  # (n,) int64
    sources: list[str] = field(default_factory=list)  # where each came from
    origins: np.ndarray | None = None  # (n,) int64: index of the --data source each came from
    classes: tuple[str, ...] = LABELS  # LABELS, plus NOT_A_FACE when non-faces were mined

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, idx: np.ndarray) -> "Samples":
        origins = None if self.origins is None else self.origins[idx]
        return Samples(self.images[idx], self.labels[idx], self.groups[idx], [self.sources[i] for i in idx], origins, self.classes)

    def class_counts(self) -> dict[str, int]:
        return {label: int((self.labels == i).sum()) for i, label in enumerate(self.classes)}


def _source_stem(path: Path) -> str:
    # "12-with-mask.jpg" is the same photo as "12.jpg" with a mask pasted on (prajna's layout).
    return re.sub(r"[-_ ]?with[-_ ]?mask$", "", path.stem, flags=re.I)


def non_face_boxes(detector, photo: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Boxes the face detector finds in a photo that overlap no annotated face: (n, 4) xyxy."""
    return split_detections(detector.detect(photo).xyxy, faces)[0]


def split_detections(found: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, list[tuple[np.ndarray, int]]]:
    """A photo's detections, as non-faces (IoU < NON_FACE_MAX_IOU with every annotated face) and
    hits: (box, index of the annotated face it matches at IoU >= 0.5, one box per face)."""
    found = np.asarray(found, np.float64).reshape(-1, 4)
    if not len(found) or not len(faces):
        return found, []
    iou = iou_matrix(found, faces)
    hits = [(found[d], g) for g, d in greedy_match(iou.T, 0.5)]
    return found[iou.max(1) < NON_FACE_MAX_IOU], hits


SYNTHETIC = ":synthetic-"  # in a sample's name: made here, not photographed (kept out of validation)
DETECTED = ":detected"  # in a sample's name: a second crop of an annotated face, from the detector's box


def load_samples(
    sources: list[str],
    split: str | None = None,
    part: str | None = None,
    margin: float = 0.15,
    log=print,
    non_face_detector=None,
    synth_incorrect: bool = False,
    synth_masks: int = 0,
    landmark_detector=None,
    seed: int = 0,
    store_size: int = STORE_SIZE,
    detected_faces: bool = False,
    non_face_max_score: float = 1.0,
) -> Samples:
    """Read every source: a folder of class folders, or an annotations.json of photos with boxes.

    With a `non_face_detector` (a FaceDetector), its false detections in the annotated photos
    become samples of a fourth class, NOT_A_FACE, in their photo's group. With `synth_incorrect`,
    class-folder pairs of a bare photo and its pasted-mask copy also give a mask_worn_incorrectly
    sample (synth.mask_below_nose), in the pair's group. With `synth_masks` > 0 and a
    `landmark_detector`, that many bare faces (drawn at random from every source) also get a mask
    drawn on them worn wrongly (synth.wear_incorrectly: under the nose, on the chin, from one ear in
    turn), each in its face's group. With `detected_faces` (and a `non_face_detector`), each
    annotated face the detector finds is also cropped at the detector's box, with the face's label:
    the crops the classifier is handed at inference sit where the detector puts them, not where an
    annotator drew. False detections scored `non_face_max_score` or higher are no non-faces (in
    photos whose small faces are not all boxed, most of them are faces). Crops are kept at
    `store_size` px (at least the model's input).
    """
    classes = LABELS + ((NOT_A_FACE,) if non_face_detector is not None else ())
    images, labels, keys, hashes, names, origins = [], [], [], [], [], []
    n_synth = 0
    for origin, source in enumerate(sources):
        p, _, _ = parse_source(source)
        if p.is_file() and p.suffix == ".json":
            n0 = len(labels)
            for item in load_annotations(source, split, part):
                try:
                    photo = read_image(item.path)
                except ValueError as exc:
                    log(f"skipped: {exc}")
                    continue
                h = dhash(photo)
                for x1, y1, x2, y2, label in item.boxes:
                    if y2 - y1 < MIN_BOX_PX or x2 - x1 < MIN_BOX_PX:
                        continue
                    images.append(crop_face(photo, (x1, y1, x2, y2), margin, store_size))
                    labels.append(LABELS.index(label))
                    keys.append(f"{p}:{item.key}")
                    hashes.append(h)
                    names.append(f"{item.key}@{int(x1)},{int(y1)}")
                    origins.append(origin)
                if non_face_detector is not None:
                    faces = np.array([b[:4] for b in item.boxes], np.float64).reshape(-1, 4)
                    found_boxes = non_face_detector.detect(photo)
                    non_faces, hits = split_detections(found_boxes.xyxy, faces)
                    if non_face_max_score < 1.0:
                        unsure = found_boxes.xyxy[found_boxes.scores < non_face_max_score]
                        non_faces = split_detections(unsure, faces)[0]
                    extra = [(box, classes.index(NOT_A_FACE), f":{NOT_A_FACE}") for box in non_faces]
                    if detected_faces:
                        extra += [
                            (box, LABELS.index(item.boxes[g][4]), DETECTED) for box, g in hits if min(box[2:] - box[:2]) >= MIN_BOX_PX
                        ]
                    for box, label, tag in extra:
                        images.append(crop_face(photo, box, margin, store_size))
                        labels.append(label)
                        keys.append(f"{p}:{item.key}")
                        hashes.append(h)
                        names.append(f"{item.key}@{int(box[0])},{int(box[1])}{tag}")
                        origins.append(origin)
            found = sum(1 for i in range(n0, len(labels)) if classes[labels[i]] == NOT_A_FACE)
            again = sum(1 for i in range(n0, len(labels)) if names[i].endswith(DETECTED))
            log(
                f"{source}: {len(labels) - n0 - found - again} face crops"
                + (f", {found} non-face detections" if non_face_detector else "")
                + (f", {again} of those faces again at the detector's box" if detected_faces else "")
            )
        elif p.is_dir():
            class_dirs = sorted(d for d in p.iterdir() if d.is_dir())
            if not class_dirs:
                raise ValueError(f"{source} has no class folders (expected e.g. {source}/with_mask/*.jpg)")
            pairs: dict[str, dict[str, Path]] = {}  # stem -> label -> file, for synthesis
            for d in class_dirs:
                label = canonical_label(d.name)
                files = sorted(f for f in d.iterdir() if f.suffix.lower() in IMAGE_EXTS)
                n0 = len(labels)
                for f in files:
                    try:
                        img = read_image(f)
                    except ValueError as exc:
                        log(f"skipped: {exc}")
                        continue
                    pairs.setdefault(_source_stem(f), {})[label] = f
                    images.append(cv2.resize(img, (store_size, store_size), interpolation=cv2.INTER_AREA))
                    labels.append(LABELS.index(label))
                    keys.append(f"{p}:{_source_stem(f)}")
                    hashes.append(dhash(img))
                    names.append(str(f))
                    origins.append(origin)
                log(f"{d}: {len(labels) - n0} images ({label})")
            if synth_incorrect:
                n0 = len(labels)
                for k, (stem, files) in enumerate(sorted(pairs.items())):
                    if (
                        "with_mask" not in files
                        or "without_mask" not in files
                        or _source_stem(files["with_mask"]) == files["with_mask"].stem
                    ):
                        continue  # only a bare photo and its pasted-mask copy ("12.jpg", "12-with-mask.jpg")
                    # Drops spread over 0.25-0.45 of the mask's height, a different one per pair.
                    img = mask_below_nose(read_image(files["without_mask"]), read_image(files["with_mask"]), 0.25 + 0.2 * ((k * 0.618) % 1))
                    if img is None:
                        continue
                    images.append(cv2.resize(img, (store_size, store_size), interpolation=cv2.INTER_AREA))
                    labels.append(LABELS.index("mask_worn_incorrectly"))
                    keys.append(f"{p}:{stem}")
                    hashes.append(dhash(img))
                    names.append(f"{files['without_mask']}{SYNTHETIC}mask-below-nose")
                    origins.append(origin)
                n_synth += len(labels) - n0
                if len(labels) > n0:
                    log(f"{source}: {len(labels) - n0} synthetic mask-below-the-nose images (mask_worn_incorrectly)")
        else:
            raise ValueError(f"training data {source} is neither a folder of class folders nor an annotations .json file")
    if not labels:
        raise ValueError("no training images found")
    if synth_incorrect and not n_synth:
        log("warning: --synth-incorrect found no pairs of a photo and its pasted-mask copy (12.jpg, 12-with-mask.jpg): nothing made")
    if synth_masks > 0 and landmark_detector is not None:
        bare = np.flatnonzero(np.array(labels) == LABELS.index("without_mask"))
        rng = np.random.default_rng(seed)
        made = dict.fromkeys(INCORRECT_KINDS, 0)
        for i in rng.permutation(bare):
            if sum(made.values()) >= synth_masks:
                break
            points = find_landmarks(landmark_detector, images[i])
            if points is None:
                continue
            kind = INCORRECT_KINDS[sum(made.values()) % len(INCORRECT_KINDS)]
            images.append(wear_incorrectly(images[i], points, kind, rng))
            labels.append(LABELS.index("mask_worn_incorrectly"))
            keys.append(keys[i])
            hashes.append(hashes[i])
            names.append(f"{names[i]}{SYNTHETIC}{kind}")
            origins.append(origins[i])
            made[kind] += 1
        log(f"synthetic incorrectly worn masks on bare faces: {made}")
    groups = group_ids(keys, hashes)
    return Samples(np.stack(images), np.array(labels, np.int64), groups, names, np.array(origins, np.int64), classes)


def group_ids(keys: list[str], hashes: list[int], max_bits: int = NEAR_DUP_BITS) -> np.ndarray:
    """Union-find over samples: same key, or hashes within max_bits of each other."""
    n = len(keys)
    parent = np.arange(n)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    first: dict[str, int] = {}
    for i, k in enumerate(keys):
        if k in first:
            union(i, first[k])
        else:
            first[k] = i
    # Compare one representative per key (a photo's crops share its hash).
    reps = np.array(sorted(first.values()))
    h = np.array([hashes[i] for i in reps], np.uint64)
    for start in range(0, len(reps), 512):
        block = h[start : start + 512]
        dist = np.bitwise_count(block[:, None] ^ h[None, :])
        for a, b in zip(*np.nonzero(dist <= max_bits)):
            if start + a < b:
                union(int(reps[start + a]), int(reps[b]))
    return np.array([find(i) for i in range(n)], np.int64)


def split_by_group(groups: np.ndarray, val_fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices of train and validation samples; whole groups go to one side."""
    rng = np.random.default_rng(seed)
    unique = np.unique(groups)
    rng.shuffle(unique)
    n_val = int(round(len(unique) * val_fraction))
    if val_fraction > 0 and len(unique) > 1:
        n_val = min(max(n_val, 1), len(unique) - 1)
    val_groups = set(unique[:n_val].tolist())
    is_val = np.array([g in val_groups for g in groups])
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def without_synthetic(samples: Samples, idx: np.ndarray) -> np.ndarray:
    """`idx` less the samples made here: validation scores real photos only (a drawn mask there
    would flatter the incorrect class), each annotated face once (not again at a detector's box)."""
    return np.array([i for i in idx if SYNTHETIC not in samples.sources[i] and not samples.sources[i].endswith(DETECTED)], np.int64)
