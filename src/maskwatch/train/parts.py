"""The part check's model (#47): is the nose covered, is the mouth covered, and which class.

Its inputs are the two crops of `crops.part_crops`, placed by the face detector's landmarks. Its
labels come from the three classes, so every face teaches it and not only the few worn
incorrectly: with_mask = nose and mouth covered, without_mask = neither, mask_worn_incorrectly =
nose bare (the mouth is left unlabelled: covered when the mask is under the nose, bare when it
is on the chin). A third head gives the class itself from the two crops, which is what
`parts.PartChecker` combines with the face classifier.

Collecting the crops runs the face detector on every photo (matching its faces to the
annotated boxes, so the landmarks are the ones inference will see) and is kept in a pack.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..types import LABELS

PART_INPUT = 48
TRAIN_MIN_PX = 24  # faces this tall and up teach the model; inference checks from parts.MIN_FACE_PX
OUTPUTS = ("nose_covered", "mouth_covered", *LABELS)
# Per class: (nose covered, mouth covered); None: not known from the class alone.
TARGETS = {"with_mask": (1.0, 1.0), "without_mask": (0.0, 0.0), "mask_worn_incorrectly": (0.0, None)}


@dataclass
class PartSamples:
    crops: np.ndarray  # (n, 2, S, S, 3) uint8 BGR
    labels: np.ndarray  # (n,) index into LABELS
    groups: list[str]  # the photo (or file) each face came from: validation splits by it
    heights: np.ndarray  # (n,) face box height in pixels
    # A mask drawn here (train/masktheface.py) on a bare face: trained on, never scored.
    synthetic: np.ndarray | None = None  # (n,) bool
    # The mouth's target where the class does not give it (a drawn mask under the nose: 1, on
    # the chin: 0); NaN: as the class says.
    mouth: np.ndarray | None = None  # (n,) float32

    def __post_init__(self):
        n = len(self.labels)
        self.synthetic = np.zeros(n, bool) if self.synthetic is None else np.asarray(self.synthetic, bool)
        self.mouth = np.full(n, np.nan, np.float32) if self.mouth is None else np.asarray(self.mouth, np.float32)

    def save(self, path: Path) -> None:
        np.savez_compressed(
            path,
            crops=self.crops,
            labels=self.labels,
            groups=np.array(self.groups),
            heights=self.heights,
            synthetic=self.synthetic,
            mouth=self.mouth,
        )

    @classmethod
    def load(cls, path: Path) -> PartSamples:
        with np.load(path) as z:
            extra = {k: z[k] for k in ("synthetic", "mouth") if k in z}
            return cls(z["crops"], z["labels"], [str(g) for g in z["groups"]], z["heights"], **extra)

    def targets(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nose and mouth targets of samples `idx` (NaN: unknown)."""
        y = self.labels[idx]
        nose = np.array([TARGETS[LABELS[k]][0] for k in y], np.float32)
        mouth = np.array([np.nan if TARGETS[LABELS[k]][1] is None else TARGETS[LABELS[k]][1] for k in y], np.float32)
        given = ~np.isnan(self.mouth[idx])
        mouth[given] = self.mouth[idx][given]
        return nose, mouth


def collect(
    sources: list[str],
    detector,
    crop_detector=None,
    size: int = PART_INPUT,
    progress: bool = True,
    templates: list | None = None,
    synth_share: float = 0.0,
    seed: int = 0,
) -> PartSamples:
    """Part crops of every face in `sources`: annotations.json[:PART] files (the detector's face
    matching each box at IoU >= 0.5, its landmarks) and folders of class folders (the face
    `crop_detector`, default `detector`, finds in each crop: one face filling the picture needs
    no enlarging). With `templates` (masktheface.load_templates), that share of the bare faces
    also gets a copy with a real mask drawn on, worn right, under the nose or on the chin (a
    third each), so that a drawn mask is no cue for any one class."""
    from ..boxes import greedy_match, iou_matrix
    from ..crops import part_crops
    from ..datasets import canonical_label, load_annotations
    from ..imageio import read_image
    from .synth import find_landmarks

    crops, labels, groups, heights, synthetic, mouth = [], [], [], [], [], []
    rng = np.random.default_rng(seed)

    def add(image, landmarks, label, group, height, drawn=False, mouth_covered=np.nan):
        crops.append(part_crops(image, landmarks, size))
        labels.append(LABELS.index(label))
        groups.append(group)
        heights.append(height)
        synthetic.append(drawn)
        mouth.append(mouth_covered)
        if label == "without_mask" and templates and not drawn and rng.random() < synth_share:
            _add_drawn(image, landmarks, group, height)

    def _add_drawn(image, landmarks, group, height):
        from .masktheface import pick, wear_mask

        # Only the face's surroundings are drawn on (the whole photo would cost a warp each).
        lm = np.asarray(landmarks, np.float64).reshape(5, 2)
        reach = 2.5 * max(float(np.hypot(*(lm[3:].mean(0) - lm[:2].mean(0)))), 4.0)
        x1, y1 = np.maximum(np.floor(lm.min(0) - reach).astype(int), 0)
        x2, y2 = np.minimum(np.ceil(lm.max(0) + reach).astype(int), image.shape[1::-1])
        region, local = image[y1:y2, x1:x2], lm - (x1, y1)
        wear = ("right", "under_nose", "chin")[int(rng.integers(3))]
        drawn = wear_mask(region, local, pick(templates, local, rng), wear, rng)
        label, mouth_covered = {
            "right": ("with_mask", np.nan),
            "under_nose": ("mask_worn_incorrectly", 1.0),
            "chin": ("mask_worn_incorrectly", 0.0),
        }[wear]
        add(drawn, local, label, group, height, drawn=True, mouth_covered=mouth_covered)

    for source in sources:
        before = len(labels)
        path = Path(source.rpartition(":")[0] if source.rpartition(":")[0].endswith(".json") else source)
        if not path.exists():
            raise ValueError(f"--data {source}: not found")
        if path.suffix == ".json":
            for item in _progress(load_annotations(source), progress, source):
                if not any(b[3] - b[1] >= TRAIN_MIN_PX for b in item.boxes):
                    continue
                try:
                    image = read_image(item.path)
                except ValueError as exc:  # one unreadable photo is reported, the rest still teach
                    print(f"skipped: {exc}")
                    continue
                found = detector.detect(image)
                truth = np.array([b[:4] for b in item.boxes], np.float64)
                if not len(found) or found.landmarks is None:
                    continue
                for g, d in greedy_match(iou_matrix(truth, found.xyxy), 0.5):
                    h = truth[g][3] - truth[g][1]
                    if h >= TRAIN_MIN_PX:
                        add(image, found.landmarks[d], item.boxes[g][4], f"{path}:{item.key}", float(h))
        else:
            for folder in sorted(p for p in path.iterdir() if p.is_dir()):
                label = canonical_label(folder.name)
                for file in _progress(sorted(folder.iterdir()), progress, str(folder)):
                    try:
                        image = read_image(file)
                    except ValueError as exc:
                        print(f"skipped: {exc}")
                        continue
                    points = find_landmarks(crop_detector or detector, image)
                    if points is not None:
                        add(image, points, label, str(file), float(image.shape[0]))
        drawn = sum(synthetic[before:])
        print(f"{source}: {len(labels) - before - drawn} faces with landmarks" + (f", {drawn} more with a mask drawn on" if drawn else ""))
    if not labels:
        raise ValueError("no face with landmarks found in the data")
    return PartSamples(
        np.stack(crops), np.array(labels, np.int64), groups, np.array(heights, np.float32), np.array(synthetic), np.array(mouth, np.float32)
    )


def _progress(items, on: bool, what: str):
    if not on:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=Path(what).name, unit="img", leave=False)


def build_model(pretrained: bool = True):
    """Two crops -> one shared MobileNetV2 trunk (its first 14 blocks, ImageNet weights: stride 16,
    96 channels) -> both crops' features side by side -> nose, mouth and class outputs."""
    import torch
    from torch import nn

    from .model import MobileNetV2
    from .pretrained import load_imagenet_backbone

    net = MobileNetV2()
    if pretrained:
        load_imagenet_backbone(net)

    class PartNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.trunk = net.features[:14]
            self.head = nn.Sequential(nn.Linear(2 * 96, 128), nn.ReLU(inplace=True), nn.Dropout(0.2), nn.Linear(128, 2 + len(LABELS)))
            # ImageNet statistics in 0-255 RGB; the input is BGR (flipped in forward).
            self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1) * 255.0)
            self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1) * 255.0)

        def logits(self, x):  # x: (n, 2, S, S, 3) BGR 0-255
            n, _, s = x.shape[:3]
            x = x.reshape(n * 2, s, s, 3).permute(0, 3, 1, 2).flip(1)
            f = self.trunk((x - self.mean) / self.std).mean((2, 3)).reshape(n, 2 * 96)
            return self.head(f)

        def forward(self, x):  # what is exported: probabilities
            z = self.logits(x)
            return torch.cat([torch.sigmoid(z[:, :2]), z[:, 2:].softmax(1)], 1)

    return PartNet()


@dataclass
class PartTrainConfig:
    out: Path
    epochs: int = 12
    batch_size: int = 128
    lr: float = 2e-3
    val_fraction: float = 0.1
    seed: int = 0
    pretrained: bool = True
    data: list[str] = field(default_factory=list)
    progress: bool = True


def _augment(batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Light, blur and mirror, as faces arrive: the same to both crops of one face."""
    import cv2

    out = batch.astype(np.float32)
    n = len(out)
    gain = rng.uniform(0.7, 1.3, (n, 1, 1, 1, 1)).astype(np.float32)
    shift = rng.uniform(-25, 25, (n, 1, 1, 1, 1)).astype(np.float32)
    out = np.clip(out * gain + shift, 0, 255)
    flip = rng.random(n) < 0.5
    out[flip] = out[flip][:, :, :, ::-1]
    s = out.shape[2]
    for i in np.flatnonzero(rng.random(n) < 0.3):  # a small face: shrunk and blown up again
        k = int(rng.integers(10, s))
        for j in range(2):
            out[i, j] = cv2.resize(cv2.resize(out[i, j], (k, k), interpolation=cv2.INTER_AREA), (s, s), interpolation=cv2.INTER_LINEAR)
    return out.astype(np.float32)


# Soft targets: the part check's answers are multiplied into the classifier's (parts.combine), so
# a sure wrong answer must not be able to overrule it. Trained on hard targets it answered 0 or 1
# (a held-out loss of 0.02), and its sure mistakes on large faces cost the incorrect class AP50.
SMOOTH_BINARY, SMOOTH_CLASS = 0.05, 0.1


def _losses(z, y, nose, mouth):
    """Nose and mouth (binary, unknown targets skipped) and class (cross-entropy), per sample."""
    import torch
    import torch.nn.functional as F

    known = torch.from_numpy((~np.isnan(mouth)).astype(np.float32))
    soft = lambda t: torch.from_numpy(t * (1 - 2 * SMOOTH_BINARY) + SMOOTH_BINARY)  # noqa: E731
    nose, mouth = soft(nose), soft(np.nan_to_num(mouth))
    bce = F.binary_cross_entropy_with_logits
    return (
        bce(z[:, 0], nose, reduction="none")
        + known * bce(z[:, 1], mouth, reduction="none")
        + F.cross_entropy(z[:, 2:], y, reduction="none", label_smoothing=SMOOTH_CLASS)
    )


def train_parts(samples: PartSamples, cfg: PartTrainConfig) -> dict:
    """Train, report on the held-out photos, export ONNX; returns the report."""
    import torch

    from .data import split_by_group

    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    names = sorted(set(samples.groups))
    gid = np.array([names.index(g) for g in samples.groups])
    train_idx, val_idx = split_by_group(gid, cfg.val_fraction, cfg.seed)
    val_idx = val_idx[~samples.synthetic[val_idx]]  # scored on real faces only
    # Classes drawn equally often: incorrectly worn faces are about one in ten.
    counts = np.bincount(samples.labels[train_idx], minlength=len(LABELS)).astype(np.float64)
    w = 1.0 / np.maximum(counts[samples.labels[train_idx]], 1)
    p = w / w.sum()
    model = build_model(cfg.pretrained)
    steps_per_epoch = max(1, len(train_idx) // cfg.batch_size)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.epochs * steps_per_epoch)
    history = []
    t0 = time.monotonic()
    for epoch in range(cfg.epochs):
        model.train()
        total = 0.0
        for _ in range(steps_per_epoch):
            idx = rng.choice(train_idx, cfg.batch_size, p=p)
            x = torch.from_numpy(_augment(samples.crops[idx], rng))
            y = torch.from_numpy(samples.labels[idx])
            loss = _losses(model.logits(x), y, *samples.targets(idx)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
        report = evaluate_parts(model, samples, val_idx)
        history.append({"epoch": epoch + 1, "train_loss": total / steps_per_epoch, **report})
        print(
            f"epoch {epoch + 1}/{cfg.epochs}: loss {total / steps_per_epoch:.3f}, held out: class accuracy {report['class_accuracy']:.3f}, "
            f"nose {report['nose_accuracy']:.3f}, mouth {report['mouth_accuracy']:.3f}, incorrect recall {report['incorrect_recall']:.3f} "
            f"({time.monotonic() - t0:.0f} s)",
            flush=True,
        )
    final = {**history[-1], "train_faces": int(len(train_idx)), "val_faces": int(len(val_idx)), "seconds": round(time.monotonic() - t0, 1)}
    export_parts(model, cfg, final)
    Path(cfg.out).with_suffix(".json").write_text(json.dumps({"history": history, "final": final}, indent=2))
    return final


def evaluate_parts(model, samples: PartSamples, idx: np.ndarray) -> dict:
    import torch

    if len(idx) == 0:  # too few photos to hold any out
        return {k: float("nan") for k in ("class_accuracy", "nose_accuracy", "mouth_accuracy", "incorrect_recall")}
    model.eval()
    with torch.no_grad():
        out = np.concatenate(
            [model(torch.from_numpy(samples.crops[idx[i : i + 256]].astype(np.float32))).numpy() for i in range(0, len(idx), 256)]
        )
    y = samples.labels[idx]
    nose_t, mouth_t = samples.targets(idx)
    known = ~np.isnan(mouth_t)
    inc = y == LABELS.index("mask_worn_incorrectly")
    pred = out[:, 2:].argmax(1)
    return {
        "class_accuracy": float((pred == y).mean()),
        "nose_accuracy": float(((out[:, 0] >= 0.5) == nose_t).mean()),
        "mouth_accuracy": float(((out[known, 1] >= 0.5) == mouth_t[known]).mean()) if known.any() else float("nan"),
        "incorrect_recall": float((pred[inc] == y[inc]).mean()) if inc.any() else float("nan"),
    }


def export_parts(model, cfg: PartTrainConfig, report: dict) -> None:
    import warnings

    import onnx
    import torch

    from .engine import store_weights_fp16

    model.eval()
    dummy = torch.zeros(2, 2, PART_INPUT, PART_INPUT, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            model,
            (dummy,),
            str(cfg.out),
            input_names=["crops"],
            output_names=["parts"],
            dynamic_axes={"crops": {0: "n"}, "parts": {0: "n"}},
            opset_version=17,
            dynamo=False,
        )
    proto = onnx.load(str(cfg.out))
    store_weights_fp16(proto)
    meta = {
        "kind": "part_check",
        "outputs": json.dumps(list(OUTPUTS)),
        "input_size": str(PART_INPUT),
        "input_format": "(n, 2, S, S, 3): nose and mouth crops (crops.part_crops), BGR uint8 values as float32",
        "architecture": "MobileNetV2 blocks 0-13 shared by both crops, ImageNet-pretrained"
        if cfg.pretrained
        else "MobileNetV2 blocks 0-13",
        "trained_on": json.dumps(cfg.data),
        "held_out": json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in report.items()}),
        "created": time.strftime("%Y-%m-%d"),
    }
    del proto.metadata_props[:]
    for k, v in meta.items():
        proto.metadata_props.add(key=k, value=v)
    onnx.save(proto, str(cfg.out))
