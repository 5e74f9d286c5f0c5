"""`maskwatch train --reviews STORE`: fine-tune a shipped (or any maskwatch) classifier on the
faces a person answered, on the CPU, and say on held-out answers whether it got better.

The model is the ONNX file itself, run as torch ops (train/onnx_graph.py): the weights it
learnt from ~10,000 public faces are where it starts, and the exported file keeps the same
graph, labels and crop geometry. Each batch is half answered faces and half replayed faces from
the data the base model was trained on (its `trained_on`, or --data), the replayed ones also
pulled toward the base model's own probabilities, so what it did well is not forgotten. A fifth
of the answers (whole photos and tracks) is held out and scored with both models.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .augment import augment, plain
from .data import Samples, split_by_group


@dataclass
class ReviewTrainConfig:
    store: str
    out: str
    base: str | None = None  # None: the shipped classifier
    replay: list[str] | None = None  # None: the base model's trained_on, where it is on this machine
    replay_pack: str | None = None  # instead: a pack of crops from `maskwatch train --save-pack`
    steps: int = 300
    batch_size: int = 64
    lr: float = 3e-4
    replay_share: float = 0.5
    distill_weight: float = 0.5  # on replayed faces: the base model's probabilities
    tail_layers: int | None = None  # train only the last N weighted layers (None: all)
    holdout: float = 0.2
    limit: int | None = None  # use at most this many answers (the benchmark's 100, 200, ...)
    seed: int = 0
    threads: int | None = None
    progress: bool = True
    lowres_p: float = 0.3
    log_every: int = 50
    bootstrap: int = 1000
    extra_meta: dict = field(default_factory=dict)


def review_samples(store, classes: tuple[str, ...], limit: int | None = None, seed: int = 0, log=print) -> tuple[Samples, list[int]]:
    """The answered faces as Samples (groups: one per photo, or per camera track), and their ids.
    Not-a-face answers go to the not_a_face class when the model has one, else are left out."""
    answered = store.faces(answered=True)
    faces = [f for f in answered if f["label"] in classes]
    dropped = len(answered) - len(faces)
    if dropped:
        log(f"reviews: {dropped} answer(s) not among the model's classes ({', '.join(classes)}) left out")
    if limit is not None and len(faces) > limit:
        # The first answers given, as a site would have them after N reviews; answers given at
        # once (an import) in the page's order: the least sure first, the sampled sure ones last.
        faces = sorted(faces, key=lambda f: (round(f["answered_at"] or 0), f["why"] in ("sample", "extra"), -f["unsureness"], f["id"]))[
            :limit
        ]
    if not faces:
        raise ValueError(
            f"review store {store.path}: no answered faces to learn from (answer some at maskwatch serve --review, or review import)"
        )
    images = np.stack([store.read_crop(f["id"]) for f in faces])
    keys = [f["source"] if f["track_id"] is None else f"{f['camera']}#{f['track_id']}@{f['source']}" for f in faces]
    _, groups = np.unique(keys, return_inverse=True)
    labels = np.array([classes.index(f["label"]) for f in faces], np.int64)
    return Samples(images, labels, groups.astype(np.int64), [f"review:{f['id']}" for f in faces], None, classes), [f["id"] for f in faces]


def _bootstrap_diff(
    groups: np.ndarray, ok_base: np.ndarray, ok_new: np.ndarray, labels: np.ndarray, n_classes: int, resamples: int, seed: int
) -> dict:
    """Paired intervals over whole groups: accuracy and balanced accuracy, new minus base."""
    rng = np.random.default_rng(seed)
    uniq = np.unique(groups)
    members = [np.flatnonzero(groups == g) for g in uniq]

    def stats(idx):
        acc_b, acc_n = ok_base[idx].mean(), ok_new[idx].mean()
        rec_b, rec_n = [], []
        for c in range(n_classes):
            m = labels[idx] == c
            if m.any():
                rec_b.append(ok_base[idx][m].mean())
                rec_n.append(ok_new[idx][m].mean())
        return acc_n - acc_b, float(np.mean(rec_n) - np.mean(rec_b))

    point = stats(np.arange(len(labels)))
    draws = np.array([stats(np.concatenate([members[j] for j in rng.integers(0, len(uniq), len(uniq))])) for _ in range(resamples)])
    lo, hi = np.percentile(draws, [2.5, 97.5], axis=0)
    return {
        "accuracy": {"diff": round(float(point[0]), 4), "low": round(float(lo[0]), 4), "high": round(float(hi[0]), 4)},
        "balanced_accuracy": {"diff": round(float(point[1]), 4), "low": round(float(lo[1]), 4), "high": round(float(hi[1]), 4)},
    }


def train_from_reviews(cfg: ReviewTrainConfig, log=print) -> dict:
    from .engine import setup_torch

    threads = setup_torch(cfg.seed, cfg.threads)
    import onnx
    import torch

    from ..classify import MaskClassifier
    from ..review.store import ReviewStore
    from .data import load_samples
    from .onnx_graph import OnnxGraphModule

    t0 = time.time()
    rng = np.random.default_rng(cfg.seed)
    store = ReviewStore(cfg.store, create=False)
    base = MaskClassifier(cfg.base, threads=threads)
    base_path = Path(cfg.base) if cfg.base else base.path
    proto = onnx.load(str(base_path))
    meta = {p.key: p.value for p in proto.metadata_props}
    classes = base.model_labels
    size, margin = base.input_size, base.margin

    reviews, ids = review_samples(store, classes, cfg.limit, cfg.seed, log)
    tr_idx, ho_idx = split_by_group(reviews.groups, cfg.holdout, cfg.seed)
    train_rev, held = reviews.subset(tr_idx), reviews.subset(ho_idx)
    log(
        f"reviews: {len(reviews)} answered ({reviews.class_counts()}); learning from {len(train_rev)}, holding out {len(held)} (by photo and track)"
    )

    replay_sources = cfg.replay
    if replay_sources is None:
        replay_sources = [s for s in json.loads(meta.get("trained_on", "[]")) if Path(s.rsplit(":", 1)[0]).exists()]
    replay = None
    if cfg.replay_pack and cfg.replay_share > 0:
        from .pack import load_pack, pack_margin

        if abs(pack_margin(cfg.replay_pack) - margin) > 1e-6:
            raise ValueError(f"{cfg.replay_pack} holds crops cut with margin {pack_margin(cfg.replay_pack)}; the base model's is {margin}")
        replay, replay_sources = load_pack(cfg.replay_pack, synthetic=False, detected=False)
        keep = [i for i, k in enumerate(replay.labels) if replay.classes[k] in classes]
        replay = replay.subset(np.array(keep))
        replay.labels = np.array([classes.index(replay.classes[k]) for k in replay.labels], np.int64)
        replay.classes = classes
        log(f"replay: {len(replay)} crops from {cfg.replay_pack} ({replay.class_counts()})")
    elif replay_sources and cfg.replay_share > 0:
        replay = load_samples(replay_sources, margin=margin, log=lambda m: None)
        log(f"replay: {len(replay)} faces from {', '.join(replay_sources)}")
    else:
        log("replay: none (no --data, and the base model's training data is not on this machine)")
    if replay is not None:  # the base model's own answers on them: what replay holds on to
        replay_targets = np.concatenate(
            [base.predict_crops(np.stack([plain(im, size) for im in replay.images[s : s + 256]])) for s in range(0, len(replay), 256)]
        )

    net = OnnxGraphModule(proto)
    net.train()
    # Only convolutions and the dense layer learn; the graph's other float tensors (the input
    # normalisation's mean and std) stay constants. float16 weights reach their node through a
    # Cast (all Casts come first in the graph).
    cast_of = {n.output[0]: n.input[0] for n in net.graph.node if n.op_type == "Cast" and n.input[0] in net._index}
    layers = [[w for w in (cast_of.get(i, i) for i in n.input) if w in net._index] for n in net.graph.node if n.op_type in ("Conv", "Gemm")]
    # With tail_layers, only the last N (a few hundred answers cannot retrain 2 M weights
    # without drifting).
    learn = {w for ws in (layers[-cfg.tail_layers :] if cfg.tail_layers else layers) for w in ws}
    for name, k in net._index.items():
        net.weights[k].requires_grad_(name in learn)
    params = [net.weights[net._index[n]] for n in sorted(learn)]
    log(
        f"fine-tuning {len(layers[-cfg.tail_layers :]) if cfg.tail_layers else len(layers)} layers ({sum(p.numel() for p in params):,} weights)"
    )
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.steps, pct_start=0.1)
    # Rare answers are drawn more (count ** -0.5), as the first training did.
    counts = np.bincount(train_rev.labels, minlength=len(classes)).astype(float)
    p_rev = (np.maximum(counts, 1) ** -0.5)[train_rev.labels]
    p_rev /= p_rev.sum()
    if replay is not None:
        rc = np.bincount(replay.labels, minlength=len(classes)).astype(float)
        p_rep = (np.maximum(rc, 1) ** -0.5)[replay.labels]
        p_rep /= p_rep.sum()
    n_rep = int(round(cfg.batch_size * cfg.replay_share)) if replay is not None else 0
    n_rev = cfg.batch_size - n_rep

    def forward(crops: np.ndarray):
        return net(torch.from_numpy(crops.astype(np.float32)))[0]

    from .engine import progress_bar

    losses = []
    for step in progress_bar(range(cfg.steps), "fine-tuning on reviews", cfg.progress):
        i = rng.choice(len(train_rev), n_rev, p=p_rev)
        crops = [augment(train_rev.images[k], size, rng, cfg.lowres_p) for k in i]
        y = list(train_rev.labels[i])
        soft = None
        if n_rep:
            j = rng.choice(len(replay), n_rep, p=p_rep)
            crops += [augment(replay.images[k], size, rng, cfg.lowres_p) for k in j]
            y += list(replay.labels[j])
            soft = torch.from_numpy(replay_targets[j])
        probs = forward(np.stack(crops)).clamp_min(1e-7)
        logp = probs.log()
        y = torch.tensor(y)
        # Label smoothing as in the first training (0.05).
        target = torch.full_like(logp, 0.05 / (len(classes) - 1))
        target.scatter_(1, y[:, None], 0.95)
        loss = -(target * logp).sum(1).mean()
        if soft is not None and cfg.distill_weight:
            loss = loss + cfg.distill_weight * -(soft * logp[n_rev:]).sum(1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        if not cfg.progress and cfg.log_every and (step + 1) % cfg.log_every == 0:
            log(f"step {step + 1}/{cfg.steps}: loss {np.mean(losses[-cfg.log_every :]):.4f}")

    net.eval()
    new_proto = net.to_proto(proto)
    used = set(ids)  # looked up once per answer below, not rebuilt for each
    reviewed = {
        "store": str(Path(cfg.store).resolve()),
        "answers": len(reviews),
        "learnt_from": len(train_rev),
        "held_out": len(held),
        "answer_ids_sha256": hashlib.sha256(",".join(map(str, sorted(ids))).encode()).hexdigest(),
        "last_answer_at": max(f["answered_at"] or 0 for f in store.faces(answered=True) if f["id"] in used),
        "replay": replay_sources or [],
        "steps": cfg.steps,
    }
    new_meta = dict(meta)
    new_meta.update(
        {
            "fine_tuned_from": json.dumps({"model": base_path.name, "sha256": hashlib.sha256(base_path.read_bytes()).hexdigest()}),
            "reviews": json.dumps(reviewed),
            "trained_on": json.dumps([*json.loads(meta.get("trained_on", "[]")), f"review:{reviewed['store']}"]),
            "created": time.strftime("%Y-%m-%d"),
            **{k: json.dumps(v) if not isinstance(v, str) else v for k, v in cfg.extra_meta.items()},
        }
    )
    del new_proto.metadata_props[:]
    for k, v in new_meta.items():
        new_proto.metadata_props.add(key=k, value=v)
    out = Path(cfg.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    onnx.save(new_proto, str(tmp))
    tmp.replace(out)

    result = {"seconds": round(time.time() - t0, 1), "threads": threads, "reviews": reviewed, "out": str(out)}
    if len(held):
        new = MaskClassifier(out, threads=threads)
        x = np.stack([plain(im, size) for im in held.images])
        pred_b = base.predict_crops(x).argmax(1)
        pred_n = new.predict_crops(x).argmax(1)
        ok_b, ok_n = pred_b == held.labels, pred_n == held.labels
        result["held_out"] = {
            "faces": len(held),
            "base_accuracy": round(float(ok_b.mean()), 4),
            "new_accuracy": round(float(ok_n.mean()), 4),
            "per_class_recall": {
                c: {
                    "base": round(float(ok_b[held.labels == k].mean()), 4),
                    "new": round(float(ok_n[held.labels == k].mean()), 4),
                    "faces": int((held.labels == k).sum()),
                }
                for k, c in enumerate(classes)
                if (held.labels == k).any()
            },
            **_bootstrap_diff(held.groups, ok_b, ok_n, held.labels, len(classes), cfg.bootstrap, cfg.seed),
        }
        h = result["held_out"]
        log(
            f"held-out answers ({len(held)} faces): accuracy {h['base_accuracy']:.3f} -> {h['new_accuracy']:.3f}, "
            f"{h['accuracy']['diff']:+.3f} [{h['accuracy']['low']:+.3f}, {h['accuracy']['high']:+.3f}]; balanced "
            f"{h['balanced_accuracy']['diff']:+.3f} [{h['balanced_accuracy']['low']:+.3f}, {h['balanced_accuracy']['high']:+.3f}]"
        )
        for c, r in h["per_class_recall"].items():
            log(f"  {c}: recall {r['base']:.3f} -> {r['new']:.3f} ({r['faces']} faces)")
    out.with_name(out.stem + "_metrics.json").write_text(json.dumps(result, indent=2))
    log(f"wrote {out} in {result['seconds']:.0f} s")
    return result
