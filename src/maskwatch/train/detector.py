"""Fine-tune the published RetinaFace face detector on box-annotated photos.

The pretrained ONNX graph is run in torch (onnx_graph.py), trained with the SSD/RetinaFace
matching and loss (anchor IoU >= 0.35 positive, 7:1 hard negatives, smooth-L1 on encoded boxes),
and its weights are written back into the same graph. Half the crops enlarge the photo 1.4-2.6x
(the crowd-photo scale inference uses); the other half zoom so that one face, picked at random,
is 8-480 px tall (log-uniform): a detector fine-tuned on tiny street faces alone learned to fire
on parts of a face that fills the frame. The learned boxes follow the annotations' convention.
With `mask_head`, a 3-class head (mask_head.py) is trained on the positive anchors too and added
to the graph as an extra output.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..boxes import iou_matrix
from ..datasets import load_annotations
from ..detectors.retinaface import WIDERFACE_DETECTOR, make_priors
from ..imageio import read_image
from ..types import LABELS


@dataclass
class DetectorTrainConfig:
    data: str | list[str]  # annotations.json files, each optionally `annotations.json:PART`
    out: str = "face_detector.onnx"
    split: str | None = None
    part: str | None = None
    epochs: int = 15
    batch_size: int = 8
    lr: float = 1e-4  # 3e-4 was worse on ilc2021 val (MODEL_CARD.md)
    crop: int = 512
    scale: tuple[float, float] = (1.4, 2.6)
    # Share of crops zoomed to one face's size (face_px, log-uniform) instead of `scale`.
    zoom_prob: float = 0.5
    face_px: tuple[float, float] = (8.0, 480.0)
    mask_head: bool = False
    # Fewest positive anchors per face (match()'s S3FD compensation); 0: the plain IoU rule.
    min_anchors: int = 0
    seed: int = 0
    threads: int | None = None
    device: str = "auto"  # as TrainConfig.device
    progress: bool = True


def train_detector(cfg: DetectorTrainConfig, log=print) -> dict:
    from .engine import pick_device, progress_bar, setup_torch

    setup_torch(cfg.seed, cfg.threads)
    import onnx
    import torch

    device = pick_device(cfg.device)
    log(f"training on {device}")

    from ..detectors.retinaface import detector_weights
    from .onnx_graph import OnnxGraphModule

    t_start = time.time()
    rng = np.random.default_rng(cfg.seed)
    sources = [cfg.data] if isinstance(cfg.data, (str, Path)) else list(cfg.data)
    items = [it for src in sources for it in load_annotations(src, cfg.split, cfg.part)]
    images, boxes = [], []
    for it in items:
        try:
            images.append(read_image(it.path))
        except ValueError as exc:
            log(f"skipped: {exc}")
            continue
        # Columns x1, y1, x2, y2, class index; the class rides along through crops and flips.
        boxes.append(np.array([(*b[:4], LABELS.index(b[4])) for b in it.boxes], np.float32).reshape(-1, 5))
    if not images:
        raise ValueError(f"no readable annotated images in {cfg.data}")
    counts = np.bincount(np.concatenate([b[:, 4] for b in boxes]).astype(np.int64), minlength=len(LABELS))
    log(f"{len(images)} photos, {counts.sum()} face boxes ({', '.join(f'{l} {n}' for l, n in zip(LABELS, counts))})")

    # Always start from the published weights, so the command reproduces the shipped model.
    spec = WIDERFACE_DETECTOR
    proto = onnx.load_from_string(detector_weights(spec))
    net = OnnxGraphModule(proto).to(device)
    groups = [{"params": list(net.parameters()), "lr": cfg.lr}]
    head = features = class_weight = None
    if cfg.mask_head:
        from .mask_head import MaskHead, feature_inputs, head_anchors

        features = tuple(feature_inputs(proto))
        head = MaskHead(levels=len(features), anchors=head_anchors(proto)).to(device)
        # The new head starts from nothing, on small (post-ReLU) features: it gets 10x the graph's
        # learning rate. (At 1x it stayed at the class prior in a 10-epoch CPU run; at 10x and 25 GPU
        # epochs it learns with/without but still not mask_worn_incorrectly, see docs/experiments.md.)
        groups.append({"params": list(head.parameters()), "lr": cfg.lr * 10})
        # Rare classes (incorrectly worn: ~3 % of faces) weigh more, by inverse square-root frequency.
        w = 1.0 / np.sqrt(np.maximum(counts, 1))
        class_weight = torch.tensor(w / (w * counts).sum() * counts.sum(), dtype=torch.float32, device=device)
    mean = np.asarray(spec.mean_bgr, np.float32)
    priors = make_priors(cfg.crop, cfg.crop, spec.strides, spec.anchor_sizes)
    prior_xyxy = np.concatenate([priors[:, :2] - priors[:, 2:] / 2, priors[:, :2] + priors[:, 2:] / 2], 1) * cfg.crop
    batch = max(1, min(cfg.batch_size, len(images)))
    steps = max(1, len(images) // batch)
    opt = torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[g["lr"] for g in groups], total_steps=steps * cfg.epochs, pct_start=0.1)
    history = []
    for epoch in range(1, cfg.epochs + 1):
        order = rng.permutation(len(images))
        total = 0.0
        bar = progress_bar(range(steps), f"epoch {epoch}/{cfg.epochs}", cfg.progress)
        for s in bar:
            xs, confs, locs, classes = [], [], [], []
            for k in order[s * batch : (s + 1) * batch]:
                x, b = random_crop(
                    images[k], boxes[k], cfg.crop, cfg.scale, mean, rng, face_px=cfg.face_px if rng.random() < cfg.zoom_prob else None
                )
                c, l, cls = match(b, priors, prior_xyxy, cfg.crop, spec.variances, min_anchors=cfg.min_anchors)
                xs.append(x)
                confs.append(c)
                locs.append(l)
                classes.append(cls)
            loc_p, conf_p, _, *feats = net(torch.from_numpy(np.stack(xs)).to(device), extra=features or ())
            conf_t = torch.from_numpy(np.stack(confs)).to(device)
            loss = multibox_loss(loc_p, conf_p, conf_t, torch.from_numpy(np.stack(locs)).to(device))
            pos = conf_t > 0
            if head is not None and pos.any():  # a batch of face-free crops has nothing to label
                loss = loss + torch.nn.functional.cross_entropy(
                    head(feats)[pos], torch.from_numpy(np.stack(classes)).to(device)[pos], weight=class_weight
                )
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
    if head is not None:
        from .mask_head import append_to_proto

        trained = append_to_proto(trained, head.to("cpu"))
    trained.metadata_props.add(key="fine_tuned_on", value=" + ".join(map(str, sources)) + (f" [{cfg.part}]" if cfg.part else ""))
    trained.metadata_props.add(key="box_convention", value="as annotated (no box adjustment needed)")
    onnx.save(trained, str(out))
    seconds = round(time.time() - t_start, 1)
    log(f"wrote {out} in {seconds:.0f} s")
    return {"history": history, "seconds": seconds}


def random_crop(image, boxes, size, scale, mean, rng, face_px=None):
    """Resize by a random factor, take a random size x size crop (mean-padded), maybe flip.
    `boxes` rows are x1, y1, x2, y2 (and any extra columns, carried unchanged).

    With `face_px` (lo, hi), the factor instead makes one random face lo-hi px tall (log-uniform)
    and the crop keeps that face's centre: from whole-frame close-ups to tiny faces."""
    h, w = image.shape[:2]
    target = None
    if face_px is not None and len(boxes):
        target = boxes[int(rng.integers(len(boxes)))]
        face_h = max(float(target[3] - target[1]), 2.0)
        s = float(np.exp(rng.uniform(np.log(face_px[0]), np.log(face_px[1])))) / face_h
        s = float(np.clip(s, 8.0 / max(h, w), 6.0))  # no photo under 8 px, no more than 6x blow-up
    else:
        s = rng.uniform(*scale)
    b = boxes.copy()
    b[:, :4] *= s
    W, H = max(1, round(w * s)), max(1, round(h * s))
    if target is not None:
        # A crop origin that keeps the picked face's centre inside the crop.
        cx, cy = (target[0] + target[2]) / 2 * s, (target[1] + target[3]) / 2 * s
        x_lo, x_hi = max(0, int(cx) - size + 1), min(max(0, W - size), int(cx))
        y_lo, y_hi = max(0, int(cy) - size + 1), min(max(0, H - size), int(cy))
        x0 = int(rng.integers(x_lo, max(x_lo, x_hi) + 1))
        y0 = int(rng.integers(y_lo, max(y_lo, y_hi) + 1))
    else:
        x0 = int(rng.integers(0, max(1, W - size + 1)))
        y0 = int(rng.integers(0, max(1, H - size + 1)))
    part_h, part_w = min(size, H - y0), min(size, W - x0)
    if s < 1:  # shrinking: INTER_AREA over the whole (now small) photo avoids aliasing
        small = cv2.resize(image, (W, H), interpolation=cv2.INTER_AREA)
        crop = np.empty((size, size, 3), np.float32)
        crop[:] = mean
        crop[:part_h, :part_w] = small[y0 : y0 + part_h, x0 : x0 + part_w]
    else:  # enlarging: warp only the crop window, not the whole blown-up photo
        m = np.array([[s, 0, -x0], [0, s, -y0]], np.float64)
        crop = cv2.warpAffine(
            image, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=tuple(float(v) for v in mean)
        ).astype(np.float32)
        crop[part_h:], crop[:, part_w:] = mean, mean
    b[:, :4] -= np.array([x0, y0, x0, y0], np.float32)
    centre = (b[:, :2] + b[:, 2:4]) / 2
    keep = (centre[:, 0] > 0) & (centre[:, 1] > 0) & (centre[:, 0] < part_w) & (centre[:, 1] < part_h)
    b = b[keep]
    b[:, :4] = b[:, :4].clip(0, size)
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
        b[:, [0, 2]] = size - b[:, [2, 0]]
    crop = np.clip(crop * rng.uniform(0.75, 1.25) + rng.uniform(-20, 20), 0, 255) - mean
    return np.ascontiguousarray(crop.transpose(2, 0, 1)), b


def match(boxes, priors, prior_xyxy, size, variances, threshold: float = 0.35, min_anchors: int = 0, floor: float = 0.1):
    """Per anchor: 1 for a face (IoU >= threshold, or the best anchor of some face), the face box
    encoded against the anchor, and the face's class (column 4 of `boxes`, 0 without one).

    min_anchors: a face with fewer positive anchors than this also gets its next best anchors
    with IoU >= floor that no other face holds (S3FD's scale compensation, Zhang et al. 2017): a
    face much smaller than the anchors, or between two anchor sizes, otherwise trains one or two
    anchors while its near neighbours are taught "no face"."""
    conf = np.zeros(len(priors), np.int64)
    loc = np.zeros((len(priors), 4), np.float32)
    cls = np.zeros(len(priors), np.int64)
    if len(boxes) == 0:
        return conf, loc, cls
    labels = boxes[:, 4].astype(np.int64) if boxes.shape[1] > 4 else np.zeros(len(boxes), np.int64)
    boxes = boxes[:, :4]
    iou = iou_matrix(boxes, prior_xyxy)
    best_gt, best_iou = iou.argmax(0), iou.max(0)
    best_prior = iou.argmax(1)
    best_iou[best_prior] = 1.0
    best_gt[best_prior] = np.arange(len(boxes))
    conf[best_iou >= threshold] = 1
    if min_anchors > 0:
        for f in np.flatnonzero(np.bincount(best_gt[conf > 0], minlength=len(boxes)) < min_anchors):
            held = int(((best_gt == f) & (conf > 0)).sum())
            for a in np.argsort(-iou[f]):
                if held >= min_anchors or iou[f, a] < floor:
                    break
                if conf[a] == 0:  # an anchor another face holds stays that face's
                    conf[a], best_gt[a] = 1, f
                    held += 1
    g = boxes[best_gt] / size
    centre, wh = (g[:, :2] + g[:, 2:]) / 2, np.maximum(g[:, 2:] - g[:, :2], 1e-4)
    loc[:, :2] = (centre - priors[:, :2]) / (variances[0] * priors[:, 2:])
    loc[:, 2:] = np.log(wh / priors[:, 2:]) / variances[1]
    cls[:] = labels[best_gt]
    return conf, loc, cls


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
