"""Where results go: JSON and CSV files (or stdout), used as context managers."""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path

from .errors import MaskwatchError
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
            row = f.to_row()
            self._writer.writerow([result.file, i, *row.pop("box"), *(("" if v is None else v) for v in row.values()), ""])


class JsonlSink:
    """One JSON line per image, for runs of any size: nothing is held in memory, and a killed run
    leaves only whole lines (each line goes out in one write; a torn last line is cut on resume).

    With resume=True, `done` holds the files already in the output; new lines are appended.
    """

    def __init__(self, path: str, model_info: dict, resume: bool = False):
        self.path = Path(path)
        self.model_info = model_info
        self.resume = resume
        self.done: set[str] = set()
        self._fd: int | None = None

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.resume and self.path.exists():
            self.done = self._scan_and_repair()
            flags = os.O_WRONLY | os.O_APPEND
        else:
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        self._fd = os.open(self.path, flags, 0o644)
        return self

    def _scan_and_repair(self) -> set[str]:
        done, good_end = set(), 0
        with open(self.path, "rb") as fh:
            for line in fh:
                if not line.endswith(b"\n"):
                    break  # torn by a crash: cut below, and the file is done again
                try:
                    done.add(json.loads(line)["file"])
                except (ValueError, KeyError, TypeError):
                    break
                good_end += len(line)
        if good_end != self.path.stat().st_size:
            os.truncate(self.path, good_end)
        return done

    def append(self, result: ImageResult) -> None:
        line = json.dumps(result.to_dict()) + "\n"
        os.write(self._fd, line.encode("utf-8"))

    def __exit__(self, *exc):
        if self._fd is not None:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None


class ParquetSink:
    """One row per image (faces as a list of structs), written in row groups as results arrive."""

    def __init__(self, path: str, rows_per_group: int = 1000):
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise MaskwatchError("Parquet output needs pyarrow: pip install 'maskwatch[parquet]'") from None
        self.path = path
        self.rows_per_group = rows_per_group
        self._rows: list[dict] = []
        self._writer = None

    def __enter__(self):
        import pyarrow as pa

        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        face = pa.struct(
            [
                ("box", pa.list_(pa.float32(), 4)),
                ("face_score", pa.float32()),
                ("label", pa.string()),
                ("score", pa.float32()),
                *[(f"p_{l}", pa.float32()) for l in LABELS],
            ]
        )
        self._schema = pa.schema(
            [("file", pa.string()), ("width", pa.int32()), ("height", pa.int32()), ("error", pa.string()), ("faces", pa.list_(face))]
        )
        return self

    def append(self, result: ImageResult) -> None:
        faces = [f.to_row() for f in result.faces]
        self._rows.append({"file": result.file, "width": result.width, "height": result.height, "error": result.error, "faces": faces})
        if len(self._rows) >= self.rows_per_group:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not self._rows:
            return
        table = pa.Table.from_pylist(self._rows, schema=self._schema)
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, self._schema)
        self._writer.write_table(table)
        self._rows.clear()

    def __exit__(self, *exc):
        self._flush()
        if self._writer is None:  # no rows at all: still a valid, empty file
            import pyarrow.parquet as pq

            self._writer = pq.ParquetWriter(self.path, self._schema)
        self._writer.close()
