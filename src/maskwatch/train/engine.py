"""Fine-tune MobileNetV2 on face crops, validate on held-out groups, export to ONNX."""

from __future__ import annotations

import json
import os
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..errors import MaskwatchError
from ..types import LABELS
from .augment import augment, plain
from .data import STORE_SIZE, Samples, load_samples, split_by_group, without_synthetic
from .report import confusion, format_report, per_class, plot_confusion, plot_history


@dataclass
class TrainConfig:
    data: list[str]
    out: str = "mask_classifier.onnx"
    split: str | None = None
    part: str | None = None
    epochs: int = 3
    batch_size: int = 64
    lr: float = 1e-3
    input_size: int = 112
    margin: float = 0.15
    val_fraction: float = 0.15
    lowres_p: float = 0.3
    # Class balance of the batches: each sample drawn with weight count(class) ** -balance
    # (0: as the data come, 1: classes equally often).
    balance: float = 0.5
    # Per --data source, a factor on how often its samples are drawn (e.g. favour photos like the
    # footage the model will see over web crops); None: all 1.
    source_weights: list[float] | None = None
    # Also learn a NOT_A_FACE class from this face detector's false detections in the annotated
    # photos (a detector name or .onnx; None: off). At inference it lowers those boxes' face_score.
    non_faces: str | None = None
    # With non_faces: also crop each annotated face the detector finds at the detector's own box.
    detected_faces: bool = False
    # With non_faces: a false detection the detector scores at least this high is not learnt as a
    # not_a_face (in kaggle-853 most of those are faces nobody boxed); 1: every one is learnt.
    non_face_max_score: float = 1.0
    # Make mask-below-the-nose examples from bare / pasted-mask photo pairs (train/synth.py).
    synth_incorrect: bool = False
    # Draw this many masks worn wrongly (under the nose, on the chin, from one ear) on bare faces,
    # placed with the face detector's landmarks (train/synth.py); 0: off.
    synth_masks: int = 0
    # Distil from this classifier (.onnx with the same labels and input size, e.g. an ensemble from
    # `maskwatch ensemble`): the loss mixes the labels with its probabilities on the same augmented
    # crops, so one model can learn what several agree on, at one model's cost.
    teacher: str | None = None
    distill_weight: float = 0.5
    pretrained: bool = True
    seed: int = 0
    threads: int | None = None
    # "auto": the GPU when PyTorch sees one, else the CPU; or "cpu", "cuda", "cuda:1", ...
    device: str = "auto"
    progress: bool = True


def pick_threads(requested: int | None) -> int:
    if requested:
        return requested
    cores = os.cpu_count() or 1
    # Two threads on a busy 2-core box run slower than one: back off when the load says so.
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return 1 if cores <= 2 and load > 0.8 else cores


def pick_device(requested: str = "auto"):
    """The torch device to train on; a clear error when a GPU is asked for and none is visible."""
    import torch

    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(requested)
    except RuntimeError:
        raise ValueError(f"unknown device {requested!r}: use auto, cpu or cuda") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {requested}: PyTorch {torch.__version__} sees no CUDA GPU here (use --device cpu)")
    return device


def setup_torch(seed: int, threads: int | None) -> int:
    """Import torch (or say how to install it), seed it, set its thread count; returns the threads."""
    try:
        import onnx  # noqa: F401  (every training run ends in an ONNX export)
        import torch
    except ImportError:
        raise MaskwatchError("training needs PyTorch and onnx: pip install 'maskwatch[train]'") from None
    torch.manual_seed(seed)
    n = pick_threads(threads)
    torch.set_num_threads(n)
    return n


def load_training_samples(cfg: TrainConfig, threads: int | None = None, log=print) -> Samples:
    """The crops `cfg` asks for: its --data sources, plus mined non-faces and synthetic masks."""
    miner = None
    if cfg.non_faces:
        from ..detectors import load_detector
        from ..settings import EVALUATION

        # The settings `maskwatch evaluate` scores with, so the mined boxes are the ones it would rank.
        miner = load_detector(EVALUATION.but(detector=cfg.non_faces, threads=threads))
    marker = None
    if cfg.synth_masks:
        from ..detectors import load_detector
        from ..settings import PHOTO

        # Landmarks for drawing masks on faces: any confident face will do.
        marker = load_detector(PHOTO.but(conf=0.3, threads=threads))
    return load_samples(
        cfg.data,
        cfg.split,
        cfg.part,
        cfg.margin,
        log=log,
        non_face_detector=miner,
        synth_incorrect=cfg.synth_incorrect,
        synth_masks=cfg.synth_masks,
        landmark_detector=marker,
        seed=cfg.seed,
        # A larger input than the cache's 128 px would only see upsampled crops.
        store_size=max(STORE_SIZE, cfg.input_size),
        detected_faces=cfg.detected_faces,
        non_face_max_score=cfg.non_face_max_score,
    )


def train(cfg: TrainConfig, log=print, samples: Samples | None = None) -> dict:
    """Train, validate and export one classifier. `samples`: already loaded crops (then `cfg.data`
    only documents them), e.g. from a pack made for a machine without the data folders."""
    if not 0 <= cfg.distill_weight <= 1:
        raise ValueError("--distill-weight must be between 0 and 1")
    if cfg.source_weights is not None and len(cfg.source_weights) != len(cfg.data):
        raise ValueError(f"--source-weights needs one weight per --data source ({len(cfg.data)}), got {len(cfg.source_weights)}")
    threads = setup_torch(cfg.seed, cfg.threads)
    import torch

    device = pick_device(cfg.device)

    from .model import Deployable, MobileNetV2
    from .pretrained import load_imagenet_backbone

    t_start = time.time()
    rng = np.random.default_rng(cfg.seed)

    if samples is None:
        samples = load_training_samples(cfg, threads, log)
    classes = samples.classes
    teacher = _load_teacher(cfg, classes, threads) if cfg.teacher else None
    tr_idx, va_idx = split_by_group(samples.groups, cfg.val_fraction, cfg.seed)
    va_idx = without_synthetic(samples, va_idx)
    train_set, val_set = samples.subset(tr_idx), samples.subset(va_idx)
    log(
        f"samples: {len(samples)} in {len(np.unique(samples.groups))} groups; train {train_set.class_counts()}, validation {val_set.class_counts()}"
    )

    net = MobileNetV2(num_classes=len(classes))
    if cfg.pretrained:
        load_imagenet_backbone(net)
    net = net.to(device, memory_format=torch.channels_last)
    mean = torch.tensor([0.485, 0.456, 0.406], device=device).view(1, 3, 1, 1) * 255
    std = torch.tensor([0.229, 0.224, 0.225], device=device).view(1, 3, 1, 1) * 255
    log(
        f"training on {device}"
        + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else f", {threads} threads")
        + (f"; distilling from {cfg.teacher} (weight {cfg.distill_weight})" if teacher else "")
    )

    def to_tensor(batch: np.ndarray):
        x = torch.from_numpy(batch).to(device).permute(0, 3, 1, 2).flip(1).float()
        return ((x - mean) / std).contiguous(memory_format=torch.channels_last)

    sample_p = sampling_probs(train_set, cfg.balance, cfg.source_weights)
    steps = max(1, len(train_set) // cfg.batch_size)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=steps * cfg.epochs, pct_start=0.15)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.05)

    history = []
    val_pred = None
    for epoch in range(1, cfg.epochs + 1):
        net.train()
        tot_loss = tot_ok = seen = 0.0
        bar = progress_bar(range(steps), f"epoch {epoch}/{cfg.epochs}", cfg.progress)
        for _ in bar:
            idx = rng.choice(len(train_set), size=cfg.batch_size, p=sample_p)
            crops = np.stack([augment(train_set.images[i], cfg.input_size, rng, cfg.lowres_p) for i in idx])
            x = to_tensor(crops)
            y = torch.from_numpy(train_set.labels[idx]).to(device)
            logits = net(x)
            loss = loss_fn(logits, y)
            if teacher is not None:
                # The teacher sees the very crops the student sees (its ONNX input is these BGR
                # pixels), resized when it was trained at another input size.
                target = torch.from_numpy(teacher.predict_crops(_resize_crops(crops, teacher.input_size))).to(device)
                soft = -(target * torch.log_softmax(logits, 1)).sum(1).mean()
                loss = (1 - cfg.distill_weight) * loss + cfg.distill_weight * soft
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            tot_loss += loss.item() * len(idx)
            tot_ok += (logits.argmax(1) == y).sum().item()
            seen += len(idx)
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(loss=f"{tot_loss / seen:.3f}", acc=f"{tot_ok / seen:.3f}")
        row = {"epoch": epoch, "train_loss": tot_loss / seen, "train_acc": tot_ok / seen}
        if len(val_set):
            val_loss, val_pred = _evaluate(net, val_set, cfg.input_size, to_tensor, loss_fn)
            cm = confusion(val_set.labels, val_pred, len(classes))
            stats = per_class(cm, classes)
            recalls = [s["recall"] for s in stats.values() if s["support"]]
            row.update(val_loss=val_loss, val_acc=float(np.trace(cm) / cm.sum()), val_bal_acc=float(np.mean(recalls)))
        history.append(row)
        log(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))

    out = Path(cfg.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    net.eval()
    export_onnx(
        Deployable(net.to("cpu", memory_format=torch.contiguous_format), [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
        out,
        cfg,
        classes,
        class_prior=class_mix(train_set, sample_p),
    )
    plot_history(history, out.with_name(out.stem + "_plot.png"))
    result = {
        "config": asdict(cfg),
        "history": history,
        "seconds": round(time.time() - t_start, 1),
        "threads": threads,
        "device": str(device),
        "train_counts": train_set.class_counts(),
        "val_counts": val_set.class_counts(),
    }
    if len(val_set):
        cm = confusion(val_set.labels, val_pred, len(classes))
        stats = per_class(cm, classes)
        plot_confusion(cm, classes, out.with_name(out.stem + "_confusion.png"))
        report = format_report(stats, cm)
        log("validation report (held-out groups):\n" + report)
        result.update(val_report=stats, confusion=cm.tolist())
        out.with_name(out.stem + "_report.txt").write_text(report + "\n")
    out.with_name(out.stem + "_metrics.json").write_text(json.dumps(result, indent=2))
    log(f"wrote {out} in {result['seconds']:.0f} s")
    return result


def _load_teacher(cfg: TrainConfig, classes: tuple[str, ...], threads: int):
    from ..classify import MaskClassifier

    teacher = MaskClassifier(cfg.teacher, threads=threads, flip=False)
    if teacher.model_labels != tuple(classes):
        raise ValueError(f"teacher {cfg.teacher} has labels {list(teacher.model_labels)}; this training has {list(classes)}")
    if abs(teacher.margin - cfg.margin) > 1e-6:
        raise ValueError(f"teacher {cfg.teacher} crops faces with margin {teacher.margin}; this training uses {cfg.margin}")
    return teacher


def _resize_crops(crops: np.ndarray, size: int) -> np.ndarray:
    if crops.shape[1] == size:
        return crops
    import cv2

    interp = cv2.INTER_AREA if size < crops.shape[1] else cv2.INTER_LINEAR
    return np.stack([cv2.resize(c, (size, size), interpolation=interp) for c in crops])


def sampling_probs(samples: Samples, balance: float, source_weights: list[float] | None = None) -> np.ndarray:
    """How often each sample is drawn: rare classes more (count ** -balance, so 0.5 favours them
    without drowning the rest), times its source's weight."""
    counts = np.bincount(samples.labels, minlength=len(samples.classes)).astype(float)
    p = (np.maximum(counts, 1) ** -balance)[samples.labels]
    if source_weights is not None:
        p = p * np.asarray(source_weights, float)[samples.origins]
    return p / p.sum()


def _evaluate(net, val: Samples, size: int, to_tensor, loss_fn) -> tuple[float, np.ndarray]:
    import torch

    net.eval()
    preds, total = [], 0.0
    with torch.no_grad():
        for s in range(0, len(val), 128):
            x = to_tensor(np.stack([plain(im, size) for im in val.images[s : s + 128]]))
            logits = net(x).cpu()
            y = torch.from_numpy(val.labels[s : s + 128])
            total += loss_fn(logits, y).item() * len(y)
            preds.append(logits.argmax(1).numpy())
    return total / len(val), np.concatenate(preds)


def class_mix(samples: Samples, sample_p: np.ndarray) -> dict[str, float]:
    """Each class's share of the training draws (the prior the model learnt; see class_prior)."""
    mass = np.bincount(samples.labels, weights=sample_p, minlength=len(samples.classes))
    return {c: round(float(m / mass.sum()), 6) for c, m in zip(samples.classes, mass)}


def export_onnx(model, path: Path, cfg: TrainConfig, classes: tuple[str, ...] = LABELS, class_prior: dict | None = None) -> None:
    import onnx
    import torch

    dummy = torch.zeros(2, cfg.input_size, cfg.input_size, 3)
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated but needs no onnxscript, and handles this plain CNN.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            model,
            (dummy,),
            str(path),
            input_names=["crops"],
            output_names=["probs"],
            dynamic_axes={"crops": {0: "n"}, "probs": {0: "n"}},
            opset_version=17,
            dynamo=False,
        )
    proto = onnx.load(str(path))
    # Labels, input size and crop geometry travel inside the file (read back by classify.py).
    meta = {
        "labels": json.dumps(list(classes)),
        "input_size": str(cfg.input_size),
        "margin": str(cfg.margin),
        "input_format": "BGR uint8 values as float32, NHWC; normalisation is inside the graph",
        "architecture": "MobileNetV2 (torchvision layout), ImageNet-pretrained" if cfg.pretrained else "MobileNetV2, random init",
        "trained_on": json.dumps(cfg.data),
        "created": time.strftime("%Y-%m-%d"),
    }
    if class_prior:
        # How often each class was drawn in training: the classifier's built-in prior, which
        # video counting divides out (classify.MaskClassifier.balancing_weights).
        meta["class_prior"] = json.dumps(class_prior)
    if cfg.teacher:
        meta["distilled_from"] = json.dumps({"teacher": Path(cfg.teacher).name, "distill_weight": cfg.distill_weight})
    store_weights_fp16(proto)
    del proto.metadata_props[:]
    for k, v in meta.items():
        proto.metadata_props.add(key=k, value=v)
    onnx.save(proto, str(path))


def store_weights_fp16(proto) -> None:
    """Store large float32 weights as float16 plus a Cast: half the file, same fp32 compute.

    ONNX Runtime folds the Casts when the session loads, so inference speed is unchanged.
    """
    from onnx import TensorProto, helper, numpy_helper

    graph = proto.graph
    casts = []
    for init in graph.initializer:
        if init.data_type != TensorProto.FLOAT or np.prod(init.dims) < 1024:
            continue
        arr = numpy_helper.to_array(init)
        name = init.name
        init.CopyFrom(numpy_helper.from_array(arr.astype(np.float16), name + "_fp16"))
        casts.append(helper.make_node("Cast", [name + "_fp16"], [name], to=TensorProto.FLOAT, name=name + "_cast"))
    nodes = casts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)


def progress_bar(it, desc: str, enabled: bool):
    if not enabled:
        return it
    from tqdm import tqdm

    return tqdm(it, desc=desc, unit="batch", leave=True)
