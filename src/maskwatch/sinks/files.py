"""Where photo results go: JSON, JSON Lines, CSV and Parquet files (or stdout), each a Sink.

Every file records what made it: the JSON document and the JSON Lines file begin with the models
and settings (`header`), the Parquet file carries them in its schema metadata."""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path

from ..errors import MaskwatchError
from ..types import LABELS, ImageResult
from .base import Sink

# The first line of a JSON Lines file: {"maskwatch": {"model": ..., "settings": ...}}.
HEADER_KEY = "maskwatch"


class _TextSink(Sink):
    """A text file, or stdout for "-"."""

    def __init__(self, path: str):
        self.path = path
        self._fh = None

    def open(self):
        if self.path == "-":
            self._fh = sys.stdout
        else:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            # surrogateescape: a file name that is not UTF-8 is written back as its own bytes.
            self._fh = open(self.path, "w", newline="", encoding="utf-8", errors="surrogateescape")
        self._start()

    def close(self):
        if self._fh is None:
            return
        try:
            self._end()
        finally:
            fh, self._fh = self._fh, None
            if fh is not sys.stdout:
                fh.close()
            else:
                fh.flush()

    def _start(self):
        pass

    def _end(self):
        pass


class JsonSink(_TextSink):
    """One JSON document: {"model": {...}, "settings": {...}, "images": [...]}, written image by image."""

    name = "json"

    def __init__(self, path: str, header: dict):
        super().__init__(path)
        self.header = header
        self._n = 0

    def _start(self):
        head = json.dumps(self.header)[1:-1]
        self._fh.write("{" + head + (", " if head else "") + '"images": [\n')

    def write(self, result: ImageResult) -> None:
        self._fh.write((",\n" if self._n else "") + json.dumps(result.to_dict()))
        self._n += 1

    def _end(self):
        self._fh.write("\n]}\n")


class CsvSink(_TextSink):
    """One row per face (or per unreadable image, with the error), ready for a spreadsheet."""

    name = "csv"

    FIELDS = ["file", "face", "x1", "y1", "x2", "y2", "face_score", "label", "score", *[f"p_{l}" for l in LABELS], "error"]

    def _start(self):
        self._writer = csv.writer(self._fh)
        self._writer.writerow(self.FIELDS)

    def write(self, result: ImageResult) -> None:
        if result.error:
            self._writer.writerow([result.file, "", "", "", "", "", "", "", "", *[""] * len(LABELS), result.error])
            return
        for i, f in enumerate(result.faces):
            row = f.to_row()
            self._writer.writerow([result.file, i, *row.pop("box"), *(("" if v is None else v) for v in row.values()), ""])


class JsonlSink(Sink):
    """One JSON line per image, for runs of any size: nothing is held in memory, and a killed run
    leaves only whole lines (each line goes out in one write; a torn last line is cut on resume).
    The first line is the header, {"maskwatch": {"model": ..., "settings": ...}}.

    With resume=True, `done` holds the files already in the output; new lines are appended.
    """

    name = "jsonl"

    def __init__(self, path: str, header: dict, resume: bool = False):
        self.path = Path(path)
        self.header = header
        self.resume = resume
        self.done: set[str] = set()
        self._fd: int | None = None

    def open(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.resume and self.path.exists():
            self.done = self._scan_and_repair()
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND, 0o644)
            if self.path.stat().st_size == 0:
                self._line({HEADER_KEY: self.header})
        else:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            self._line({HEADER_KEY: self.header})

    def _line(self, record: dict) -> None:
        os.write(self._fd, (json.dumps(record) + "\n").encode("utf-8"))

    def _scan_and_repair(self) -> set[str]:
        done, good_end = set(), 0
        with open(self.path, "rb") as fh:
            for line in fh:
                if not line.endswith(b"\n"):
                    break  # torn by a crash: cut below, and the file is done again
                try:
                    record = json.loads(line)
                    if HEADER_KEY not in record:
                        done.add(record["file"])
                except (ValueError, KeyError, TypeError):
                    break
                good_end += len(line)
        if good_end != self.path.stat().st_size:
            os.truncate(self.path, good_end)
        return done

    def write(self, result: ImageResult) -> None:
        self._line(result.to_dict())

    def close(self):
        if self._fd is not None:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None


class ParquetSink(Sink):
    """One row per image (faces as a list of structs), written in row groups as results arrive;
    the header (models, settings) in the schema's metadata, under b"maskwatch"."""

    name = "parquet"

    def __init__(self, path: str, header: dict | None = None, rows_per_group: int = 1000):
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise MaskwatchError("Parquet output needs pyarrow: pip install 'maskwatch[parquet]'") from None
        self.path = path
        self.header = header or {}
        self.rows_per_group = rows_per_group
        self._rows: list[dict] = []
        self._writer = None

    def open(self):
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
            [("file", pa.string()), ("width", pa.int32()), ("height", pa.int32()), ("error", pa.string()), ("faces", pa.list_(face))],
            metadata={HEADER_KEY.encode(): json.dumps(self.header).encode()},
        )

    def write(self, result: ImageResult) -> None:
        faces = [f.to_row() for f in result.faces]
        # Parquet strings are UTF-8: a name that is not is kept readable, its odd bytes as \xNN.
        name = result.file.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        self._rows.append(
            {
                "file": name,
                "width": result.width,
                "height": result.height,
                "error": result.error and result.error.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace"),
                "faces": faces,
            }
        )
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

    def close(self):
        self._flush()
        if self._writer is None:  # no rows at all: still a valid, empty file
            import pyarrow.parquet as pq

            self._writer = pq.ParquetWriter(self.path, self._schema)
        self._writer.close()


class StdoutJsonl(Sink):
    """--jsonl -: one line per image on stdout, after the header line (for pipes)."""

    name = "jsonl"

    def __init__(self, header: dict):
        self.header = header

    def open(self):
        sys.stdout.write(json.dumps({HEADER_KEY: self.header}) + "\n")

    def write(self, result: ImageResult) -> None:
        sys.stdout.write(json.dumps(result.to_dict()) + "\n")

    def close(self):
        sys.stdout.flush()
