"""Where photo results go: JSON, JSON Lines, CSV and Parquet files (or stdout), each a Sink.

Every file records what made it: the JSON document and the JSON Lines file begin with the models
and settings (`header`), the Parquet file carries them in its schema metadata."""

from __future__ import annotations

import csv
import json
import os
import stat
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
            try:
                self._end()
            finally:
                fh, self._fh = self._fh, None
                if fh is not sys.stdout:
                    fh.close()
                else:
                    fh.flush()
        except OSError as exc:  # the buffered tail hits a full disk at close: name the file
            raise OSError(exc.errno, f"cannot write {self.path}: {exc.strerror or exc}") from None

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

    FIELDS = ["file", "face", "x1", "y1", "x2", "y2", "face_score", "label", "score", *[f"p_{l}" for l in LABELS], "reason", "error"]

    def _start(self):
        self._writer = csv.writer(self._fh)
        self._writer.writerow(self.FIELDS)

    def write(self, result: ImageResult) -> None:
        if result.error:
            self._writer.writerow([result.file, "", "", "", "", "", "", "", "", *[""] * len(LABELS), "", result.error])
            return
        for i, f in enumerate(result.faces):
            row = f.to_row()
            self._writer.writerow([result.file, i, *row.pop("box"), *(("" if v is None else v) for v in row.values()), ""])


class JsonlSink(Sink):
    """One JSON line per image, for runs of any size: nothing is held in memory, and a killed run
    leaves only whole lines (each line goes out in one write; a torn last line is cut on resume).
    The first line is the header, {"maskwatch": {"model": ..., "settings": ...}}.

    One writer per file: an advisory lock (flock) held while open; a second run on the same file
    is refused (two at once left NUL bytes and torn lines). With resume=True, `done` holds the
    files already in the output, except those whose error may go away (`retry`); new lines are
    appended. A resume is refused when the file's header names other models or settings (unless
    `any_settings`), or when a line before the last is damaged (its number is given): only a torn
    last line, what a crash leaves, is repaired.
    """

    name = "jsonl"

    def __init__(self, path: str, header: dict, resume: bool = False, any_settings: bool = False):
        self.path = Path(path)
        self.header = header
        self.resume = resume
        self.any_settings = any_settings
        self.done: set[str] = set()
        self._fd: int | None = None

    def open(self):
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        resuming = self.resume and self.path.exists()
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)  # no O_TRUNC before the lock is ours
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ValueError(
                f"--jsonl {self.path}: another maskwatch run is writing this file; wait for it to end or write elsewhere"
            ) from None
        try:
            if resuming and os.fstat(fd).st_size:
                self.done = self._scan_and_repair(fd)
            elif stat.S_ISREG(os.fstat(fd).st_mode):  # a device or a pipe has nothing to empty
                os.ftruncate(fd, 0)
            self._fd = fd
            if os.fstat(fd).st_size == 0:
                self._line({HEADER_KEY: self.header})
        except BaseException:
            os.close(fd)
            self._fd = None
            raise

    def _line(self, record: dict) -> None:
        data = (json.dumps(record) + "\n").encode("utf-8")
        try:
            os.write(self._fd, data)
        except OSError as exc:
            raise OSError(exc.errno, f"cannot write {self.path}: {exc.strerror}") from None

    def _scan_and_repair(self, fd: int) -> set[str]:
        last: dict[str, bool] = {}  # file -> done (its last line decides: a retried file's new line wins)
        good_end = 0
        with open(fd, "rb", closefd=False) as fh:
            fh.seek(0)
            for n, line in enumerate(fh, 1):
                if not line.endswith(b"\n"):
                    break  # torn by a crash: cut below, and that file is done again
                try:
                    record = json.loads(line)
                    header = record.get(HEADER_KEY) if n == 1 else None
                    if header is None:
                        last[record["file"]] = not (record.get("error") and record.get("retry"))
                except (ValueError, KeyError, TypeError, AttributeError):
                    raise ValueError(
                        f"--resume {self.path}: line {n} is damaged (not a result line); nothing was changed: "
                        "repair or remove that line, or start a new file"
                    ) from None
                if header is not None:
                    self._check_header(header)
                good_end += len(line)
        if good_end != os.fstat(fd).st_size:
            os.ftruncate(fd, good_end)
        return {f for f, done in last.items() if done}

    def _check_header(self, before: dict) -> None:
        """The run being resumed used these models and settings: a resume with others would mix
        results (refused unless any_settings)."""
        if self.any_settings or not isinstance(before, dict):
            return
        diff = []
        for part in ("model", "settings"):
            # compared as the file holds them (a tuple of this run is a list there)
            old, new = before.get(part) or {}, json.loads(json.dumps(self.header.get(part) or {}, default=str))
            # A key only one side has is a setting one version of maskwatch lacks, not a change.
            diff += [f"{part}.{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in sorted(set(old) & set(new)) if old.get(k) != new.get(k)]
        if diff:
            raise ValueError(
                f"--resume {self.path}: this run's models or settings differ from the file's ({'; '.join(diff[:3])}"
                f"{'; ...' if len(diff) > 3 else ''}); use the same options, or --resume-any-settings to mix them"
            )

    def write(self, result: ImageResult) -> None:
        self._line(result.to_dict())

    def close(self):
        if self._fd is not None:
            os.fsync(self._fd)
            os.close(self._fd)  # and the lock with it
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
                ("reason", pa.string()),
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
