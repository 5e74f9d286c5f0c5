"""Where results go: JSON and CSV files (or stdout), used as context managers."""
from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

from .types import LABELS, ImageResult


class _Sink:
    def __init__(self, path: str):
        self.path = path
        self._fh = None

    def __enter__(self):
        if self.path == "-":
            self._fh = sys.stdout
        else:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "w", newline="", encoding="utf-8")
        self._open()
        return self

    def __exit__(self, *exc):
        self._close()
        if self._fh is not sys.stdout:
            self._fh.close()
        else:
            self._fh.flush()

    def _open(self):
        pass

    def _close(self):
        pass


class JsonSink(_Sink):
    """One JSON document: {"model": {...}, "images": [...]}, written image by image."""

    def __init__(self, path: str, model_info: dict):
        super().__init__(path)
        self.model_info = model_info
        self._n = 0

    def _open(self):
        self._fh.write('{"model": ' + json.dumps(self.model_info) + ', "images": [\n')

    def append(self, result: ImageResult) -> None:
        self._fh.write((",\n" if self._n else "") + json.dumps(result.to_dict()))
        self._n += 1

    def _close(self):
        self._fh.write("\n]}\n")


class CsvSink(_Sink):
    """One row per face (or per unreadable image, with the error), ready for a spreadsheet."""

    FIELDS = ["file", "face", "x1", "y1", "x2", "y2", "face_score", "label", "score", *[f"p_{l}" for l in LABELS], "error"]

    def _open(self):
        self._writer = csv.writer(self._fh)
        self._writer.writerow(self.FIELDS)

    def append(self, result: ImageResult) -> None:
        if result.error:
            self._writer.writerow([result.file, "", "", "", "", "", "", "", "", *[""] * len(LABELS), result.error])
            return
        for i, f in enumerate(result.faces):
            d = f.to_dict()
            self._writer.writerow([result.file, i, *d["box"], d["face_score"], d["label"], d["score"],
                                   *[d["probs"].get(l, "") for l in LABELS], ""])
