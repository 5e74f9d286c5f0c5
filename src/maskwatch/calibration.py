"""Do the classifier's probabilities mean what they say? Expected calibration error, a reliability
plot, and a temperature that rescales the probabilities (fitted on held-out faces).

Computed on detected faces matched to an annotated face (the faces a user sees labelled)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

BINS = 10


def ece(probs: np.ndarray, truth: np.ndarray, bins: int = BINS) -> float:
    """Top-label expected calibration error: |accuracy - confidence| per confidence bin, weighted
    by the bin's share of faces."""
    if not len(probs):
        return float("nan")
    conf = probs.max(1)
    right = probs.argmax(1) == truth
    return _binned_gap(conf, right, bins)


def class_ece(probs: np.ndarray, truth: np.ndarray, bins: int = BINS) -> list[float]:
    """Per class, one against the rest: is p(class) the share of faces of that class?"""
    if not len(probs):
        return [float("nan")] * probs.shape[1]
    return [_binned_gap(probs[:, c], truth == c, bins) for c in range(probs.shape[1])]


def _binned_gap(conf: np.ndarray, hit: np.ndarray, bins: int) -> float:
    which = np.minimum((conf * bins).astype(int), bins - 1)
    gap = 0.0
    for b in range(bins):
        sel = which == b
        if sel.any():
            gap += sel.mean() * abs(hit[sel].mean() - conf[sel].mean())
    return float(gap)


def nll(probs: np.ndarray, truth: np.ndarray) -> float:
    return float(-np.log(np.clip(probs[np.arange(len(truth)), truth], 1e-7, 1)).mean()) if len(truth) else float("nan")


def with_temperature(probs: np.ndarray, t: float) -> np.ndarray:
    """Softmax(logits / t) from softmax probabilities (log p is the logits up to a constant)."""
    z = np.log(np.clip(probs, 1e-7, 1)) / t
    z -= z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def fit_temperature(probs: np.ndarray, truth: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood (grid 0.5-4, then refined)."""
    grid = np.exp(np.linspace(np.log(0.5), np.log(4.0), 41))
    best = min(grid, key=lambda t: nll(with_temperature(probs, t), truth))
    fine = np.linspace(best / 1.06, best * 1.06, 13)
    return float(min(fine, key=lambda t: nll(with_temperature(probs, t), truth)))


def plot_reliability(probs: np.ndarray, truth: np.ndarray, labels, path: str | Path, bins: int = BINS) -> None:
    """Per class: mean predicted probability against the observed share, per bin."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="perfectly calibrated")
    per_class = class_ece(probs, truth, bins)
    for c, label in enumerate(labels):
        p, hit = probs[:, c], truth == c
        which = np.minimum((p * bins).astype(int), bins - 1)
        xs, ys = [], []
        for b in range(bins):
            sel = which == b
            if sel.sum() >= 3:  # a point from fewer faces says little
                xs.append(p[sel].mean())
                ys.append(hit[sel].mean())
        ax.plot(xs, ys, marker="o", label=f"{label} (ECE {per_class[c]:.3f})")
    ax.set(
        xlabel="predicted probability",
        ylabel="observed share",
        xlim=(0, 1),
        ylim=(0, 1),
        title=f"reliability of matched faces (top-label ECE {ece(probs, truth, bins):.3f})",
    )
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
