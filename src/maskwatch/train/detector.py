"""Fine-tune the shipped RetinaFace face detector on box-annotated photos (face / no face).

The pretrained ONNX graph is run in torch (onnx_graph.py), trained with the SSD/RetinaFace
matching and loss (anchor IoU >= 0.35 positive, 7:1 hard negatives, smooth-L1 on encoded boxes),
and its weights are written back into the same graph. Images are enlarged 1.4-2.6x before the
crop, as inference enlarges them 2x; the learned boxes follow the annotations' convention.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..boxes import iou_matrix
from ..datasets import load_annotations
from ..faces import make_priors
from ..imageio import read_image
from ..specs import DEFAULT_DETECTOR


@dataclass
class DetectorTrainConfig:
    data: str
    out: str = "face_detector.onnx"
    split: str | None = None
    part: str | None = None
    epochs: int = 10
    batch_size: int = 8
    lr: float = 3e-4
    crop: int = 512
    scale: tuple[float, float] = (1.4, 2.6)
    seed: int = 0
    threads: int | None = None
    progress: bool = True


def train_detector(cfg: DetectorTrainConfig, log=print) -> dict:
    from .engine import _progress, setup_torch

    setup_torch(cfg.seed, cfg.threads)
    import onnx
    import torch

    from ..faces import _load_weights
    from .onnx_graph import OnnxGraphModule

    t_start = time.time()
    rng = np.random.default_rng(cfg.seed)
    items = load_annotations(cfg.data, cfg.split, cfg.part)
    images, boxes = [], []
    for it in items:
        try:
            images.append(read_image(it.path))
        except ValueError as exc:
            log(f"skipped: {exc}")
            continue
        boxes.append(np.array([b[:4] for b in it.boxes], np.float32).reshape(-1, 4))
    if not images:
        raise ValueError(f"no readable annotated images in {cfg.data}")
    log(f"{len(images)} photos, {sum(len(b) for b in boxes)} face boxes")

    spec = DEFAULT_DETECTOR
    proto = onnx.load_from_string(_load_weights(spec))
    net = OnnxGraphModule(proto)
    mean = np.asarray(spec.mean_bgr, np.float32)
    priors = make_priors(cfg.crop, cfg.crop, spec.strides, spec.anchor_sizes)
    prior_xyxy = np.concatenate([priors[:, :2] - priors[:, 2:] / 2, priors[:, :2] + priors[:, 2:] / 2], 1) * cfg.crop
    batch = max(1, min(cfg.batch_size, len(images)))
    steps = max(1, len(images) // batch)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=steps * cfg.epochs, pct_start=0.1)
    history = []
    for epoch in range(1, cfg.epochs + 1):
        order = rng.permutation(len(images))
        total = 0.0
        bar = _progress(range(steps), f"epoch {epoch}/{cfg.epochs}", cfg.progress)
        for s in bar:
            xs, confs, locs = [], [], []
            for k in order[s * batch : (s + 1) * batch]:
                x, b = random_crop(images[k], boxes[k], cfg.crop, cfg.scale, mean, rng)
                c, l = match(b, priors, prior_xyxy, cfg.crop, spec.variances)
                xs.append(x)
                confs.append(c)
                locs.append(l)
            loc_p, conf_p, _ = net(torch.from_numpy(np.stack(xs)))
            loss = multibox_loss(loc_p, conf_p, torch.from_numpy(np.stack(confs)), torch.from_numpy(np.stack(locs)))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(loss=f"{total / (s + 1):.3f}")
        history.append({"epoch": epoch, "loss": total / steps})
        log(f"epoch={epoch} loss={total / steps:.4f}")
    out = Path(cfg.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    trained = net.to_proto(proto)
    trained.metadata_props.add(key="fine_tuned_on", value=str(cfg.data) + (f" [{cfg.part}]" if cfg.part else ""))
    trained.metadata_props.add(key="box_convention", value="as annotated (no box adjustment needed)")
    onnx.save(trained, str(out))
    seconds = round(time.time() - t_start, 1)
    log(f"wrote {out} in {seconds:.0f} s")
    return {"history": history, "seconds": seconds}


def random_crop(image, boxes, size, scale, mean, rng):
    """Enlarge by a random factor, take a random size x size crop (mean-padded), maybe flip."""
    s = rng.uniform(*scale)
    h, w = image.shape[:2]
    big = cv2.resize(image, (max(1, round(w * s)), max(1, round(h * s))))
    b = boxes * s
    H, W = big.shape[:2]
    x0 = int(rng.integers(0, max(1, W - size + 1)))
    y0 = int(rng.integers(0, max(1, H - size + 1)))
    crop = np.empty((size, size, 3), np.float32)
    crop[:] = mean
    part = big[y0 : y0 + size, x0 : x0 + size]
    crop[: part.shape[0], : part.shape[1]] = part
    b = b - np.array([x0, y0, x0, y0], np.float32)
    centre = (b[:, :2] + b[:, 2:]) / 2
    keep = (centre[:, 0] > 0) & (centre[:, 1] > 0) & (centre[:, 0] < part.shape[1]) & (centre[:, 1] < part.shape[0])
    b = b[keep].clip(0, size)
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
        b = b[:, [2, 1, 0, 3]].copy()
        b[:, [0, 2]] = size - b[:, [0, 2]]
    crop = np.clip(crop * rng.uniform(0.75, 1.25) + rng.uniform(-20, 20), 0, 255) - mean
    return np.ascontiguousarray(crop.transpose(2, 0, 1)), b


def match(boxes, priors, prior_xyxy, size, variances, threshold: float = 0.35):
    """Per anchor: 1 for a face (IoU >= threshold, or the best anchor of some face), and the
    face box encoded against the anchor."""
    conf = np.zeros(len(priors), np.int64)
    loc = np.zeros((len(priors), 4), np.float32)
    if len(boxes) == 0:
        return conf, loc
    iou = iou_matrix(boxes, prior_xyxy)
    best_gt, best_iou = iou.argmax(0), iou.max(0)
    best_prior = iou.argmax(1)
    best_iou[best_prior] = 1.0
    best_gt[best_prior] = np.arange(len(boxes))
    conf[best_iou >= threshold] = 1
    g = boxes[best_gt] / size
    centre, wh = (g[:, :2] + g[:, 2:]) / 2, np.maximum(g[:, 2:] - g[:, :2], 1e-4)
    loc[:, :2] = (centre - priors[:, :2]) / (variances[0] * priors[:, 2:])
    loc[:, 2:] = np.log(wh / priors[:, 2:]) / variances[1]
    return conf, loc


def multibox_loss(loc_p, conf_p, conf_t, loc_t, neg_ratio: int = 7):
    import torch

    # The graph ends in a softmax: train on its log-probabilities.
    logp = torch.log(conf_p.clamp_min(1e-7))
    pos = conf_t > 0
    n_pos = max(int(pos.sum()), 1)
    ce = -logp.gather(2, conf_t.unsqueeze(2)).squeeze(2)
    with torch.no_grad():
        hard = ce.clone()
        hard[pos] = 0
        rank = hard.argsort(1, descending=True).argsort(1)
        neg = rank < (pos.sum(1, keepdim=True) * neg_ratio).clamp(min=16, max=pos.shape[1] - 1)
    conf_loss = ce[pos | neg].sum() / n_pos
    loc_loss = torch.nn.functional.smooth_l1_loss(loc_p[pos], loc_t[pos], reduction="sum") / n_pos
    return conf_loss + 2 * loc_loss
