"""Training outputs a person reads: curves, confusion matrix, per-class report."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n: int) -> np.ndarray:
    cm = np.zeros((n, n), np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def per_class(cm: np.ndarray, labels) -> dict[str, dict[str, float]]:
    out = {}
    for i, label in enumerate(labels):
        tp = cm[i, i]
        prec = tp / cm[:, i].sum() if cm[:, i].sum() else 0.0
        rec = tp / cm[i].sum() if cm[i].sum() else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        out[label] = {"precision": float(prec), "recall": float(rec), "f1": float(f1), "support": int(cm[i].sum())}
    return out


def format_report(stats: dict[str, dict[str, float]], cm: np.ndarray) -> str:
    lines = [f"{'class':24s} {'precision':>9s} {'recall':>7s} {'f1':>6s} {'support':>8s}"]
    for label, s in stats.items():
        lines.append(f"{label:24s} {s['precision']:9.3f} {s['recall']:7.3f} {s['f1']:6.3f} {s['support']:8d}")
    total = cm.sum()
    acc = np.trace(cm) / total if total else 0.0
    recalls = [s["recall"] for s in stats.values() if s["support"]]
    lines.append(f"{'accuracy':24s} {acc:9.3f}   balanced accuracy {np.mean(recalls) if recalls else 0.0:.3f}   n={total}")
    return "\n".join(lines)


def plot_history(history: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.plot(epochs, [h["train_loss"] for h in history], "o-", label="train")
    if any(h.get("val_loss") is not None for h in history):
        a.plot(epochs, [h["val_loss"] for h in history], "o-", label="validation")
    a.set(title="loss", xlabel="epoch")
    a.legend()
    b.plot(epochs, [h["train_acc"] for h in history], "o-", label="train accuracy")
    if any(h.get("val_acc") is not None for h in history):
        b.plot(epochs, [h["val_acc"] for h in history], "o-", label="validation accuracy")
        b.plot(epochs, [h["val_bal_acc"] for h in history], "s--", label="validation balanced acc.")
    b.set(title="accuracy", xlabel="epoch", ylim=(0, 1.02))
    b.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_confusion(cm: np.ndarray, labels, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set(xlabel="predicted", ylabel="true", title="validation confusion matrix")
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", color="white" if cm[i, j] > cm.max() / 2 else "black")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
