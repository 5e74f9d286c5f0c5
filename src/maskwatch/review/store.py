"""The review store: faces worth a person's look, their answers, and the crops beside them.

A store is a folder: `review.sqlite` (SQLite in WAL mode, so the page can read while a camera
writes, and every answer is on disk when the request returns) and `crops/` with two JPEGs per
face: the crop the classifier saw (at its margin, STORE_SIZE px: what retraining learns from) and
the region around it with the box drawn (what the person looks at).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..boxes import square_crop_box
from ..crops import crop_face, dhash
from ..types import LABELS, NOT_A_FACE

SCHEMA_VERSION = 1
DB_NAME = "review.sqlite"
CROP_SIZE = 128  # as train/data.py keeps its crops: augmentation scales them to the input size
CONTEXT_PX = 384  # the longest side of the region shown around a face
CONTEXT_SCALE = 2.5  # the region is this many face boxes wide
ANSWERS = (*LABELS, NOT_A_FACE)
LEASE_S = 120  # a face shown in one tab is not shown in another for this long
BUSY_MS = 10_000  # how long a writer waits for another (a camera, the page, an import)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS faces (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,          -- one entry per face: source and box, or camera and track
    source TEXT NOT NULL,              -- the photo or stream it came from
    camera TEXT NOT NULL,
    seen_at REAL NOT NULL,             -- unix time
    hour TEXT NOT NULL,                -- UTC hour, for the per-camera bound
    frame INTEGER,
    track_id INTEGER,
    box TEXT NOT NULL,                 -- [x1, y1, x2, y2] in pixels of the source
    width INTEGER NOT NULL,            -- of the source image or frame
    height INTEGER NOT NULL,
    landmarks TEXT,                    -- [[x, y] x 5] when the detector gave them
    probs TEXT NOT NULL,               -- the model's probabilities, by label
    face_score REAL NOT NULL,
    predicted TEXT,
    why TEXT NOT NULL,                 -- unsure, flip, sample, or extra (--review-keep all)
    unsureness REAL NOT NULL,          -- higher: less sure (1 - margin of the top two)
    dhash INTEGER NOT NULL,            -- of the crop: near-identical faces are kept once
    margin REAL NOT NULL,              -- the crop's margin around the box
    model TEXT,                        -- the classifier that scored it
    label TEXT,                        -- the person's answer (NULL: not yet)
    answered_at REAL,
    lease_until REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS faces_open ON faces (label, unsureness);
CREATE INDEX IF NOT EXISTS faces_hour ON faces (camera, hour);
CREATE TABLE IF NOT EXISTS answers (   -- every answer, in order: undo, and a record of who said what
    seq INTEGER PRIMARY KEY,
    face_id INTEGER NOT NULL REFERENCES faces (id),
    label TEXT,
    previous TEXT,
    at REAL NOT NULL,
    client TEXT,
    undone INTEGER NOT NULL DEFAULT 0
);
"""


@dataclass(frozen=True)
class Candidate:
    """A face to keep, as the pipeline saw it."""

    source: str
    camera: str
    box: tuple[float, float, float, float]
    probs: dict[str, float]
    face_score: float
    predicted: str | None
    why: str
    unsureness: float
    key: str
    frame: int | None = None
    track_id: int | None = None
    landmarks: list | None = None
    seen_at: float | None = None


def _dhash(image: np.ndarray) -> int:
    h = dhash(image)
    return h - (1 << 64) if h >= 1 << 63 else h  # SQLite holds signed 64-bit integers


def context_image(image: np.ndarray, box) -> np.ndarray:
    """The region around a face, the box drawn on it, at most CONTEXT_PX on its longest side."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = square_crop_box(box, (CONTEXT_SCALE - 1) / 2, w, h)
    x1, y1, x2, y2 = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
    region = image[y1:y2, x1:x2].copy() if x2 > x1 and y2 > y1 else np.zeros((8, 8, 3), np.uint8)
    bx = np.array(box, float) - [x1, y1, x1, y1]
    scale = min(1.0, CONTEXT_PX / max(region.shape[:2]))
    if scale < 1:
        region = cv2.resize(
            region, (max(1, round(region.shape[1] * scale)), max(1, round(region.shape[0] * scale))), interpolation=cv2.INTER_AREA
        )
    elif max(region.shape[:2]) < CONTEXT_PX / 2:  # small faces are shown larger, as pixels
        scale = (CONTEXT_PX / 2) / max(region.shape[:2])
        region = cv2.resize(region, (round(region.shape[1] * scale), round(region.shape[0] * scale)), interpolation=cv2.INTER_NEAREST)
    bx = (bx * scale).round().astype(int)
    cv2.rectangle(region, (bx[0], bx[1]), (bx[2], bx[3]), (0, 220, 255), 2)
    return region


class ReviewStore:
    """One store; thread-safe (a connection per call); several processes may write at once."""

    def __init__(self, path: str | Path, create: bool = True):
        self.path = Path(path)
        if self.path.suffix == ".sqlite" and not self.path.is_dir():
            raise ValueError(f"review store {self.path}: give the store's folder, not its database file")
        if not (self.path / DB_NAME).exists():
            if not create:
                raise ValueError(f"review store {self.path}: no such store (make one with --review {self.path})")
            if self.path.exists() and not self.path.is_dir():
                raise ValueError(f"review store {self.path}: exists and is not a folder")
            (self.path / "crops").mkdir(parents=True, exist_ok=True)
        self.crops = self.path / "crops"
        self.crops.mkdir(exist_ok=True)
        with self._connect() as db:
            self._migrate(db)

    # -- connections ---------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(self.path / DB_NAME, timeout=BUSY_MS / 1000, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")  # an answer acknowledged is an answer on disk
            db.row_factory = sqlite3.Row
            return contextlib.closing(db)
        except sqlite3.DatabaseError as exc:
            raise ValueError(f"review store {self.path}: {DB_NAME} is damaged or not a maskwatch store ({exc})") from None

    def _migrate(self, db) -> None:
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise ValueError(
                    f"review store {self.path} is from a newer maskwatch (schema {version}, this one reads {SCHEMA_VERSION}): upgrade maskwatch"
                )
            if version < SCHEMA_VERSION:
                db.executescript(_SCHEMA)
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            db.execute("SELECT count(*) FROM faces").fetchone()  # a damaged file fails here, not later
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise ValueError(f"review store {self.path}: locked by another program for over {BUSY_MS // 1000} s ({exc})") from None
            raise ValueError(f"review store {self.path}: {DB_NAME} is damaged or not a maskwatch store ({exc})") from None
        except sqlite3.DatabaseError as exc:
            raise ValueError(f"review store {self.path}: {DB_NAME} is damaged or not a maskwatch store ({exc})") from None

    def _run(self, fn):
        """fn(db) in one immediate transaction; SQLite errors become one-line ValueErrors."""
        try:
            with self._connect() as db:
                db.execute("BEGIN IMMEDIATE")
                try:
                    out = fn(db)
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
                return out
        except sqlite3.OperationalError as exc:
            raise ValueError(f"review store {self.path}: {exc} (another program holds it?)") from None
        except sqlite3.DatabaseError as exc:
            raise ValueError(f"review store {self.path}: {exc}") from None

    def _read(self, sql: str, params=()) -> list[sqlite3.Row]:
        try:
            with self._connect() as db:
                return db.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:
            raise ValueError(f"review store {self.path}: {exc}") from None

    # -- adding faces --------------------------------------------------------------------

    def add(self, image: np.ndarray, c: Candidate, margin: float, model: str | None = None, per_hour: int | None = None) -> int | None:
        """Keep one face (its crops written first): its id, or None when it is a duplicate or
        the camera's hour is full of faces less sure than it."""
        crop = crop_face(image, c.box, margin, CROP_SIZE)
        return self.add_crops(crop, context_image(image, c.box), image.shape[:2], c, margin, model, per_hour)

    def add_crops(self, crop, context, size: tuple[int, int], c: Candidate, margin: float, model=None, per_hour=None) -> int | None:
        """As add(), with the crops cut already (video keeps a track's least sure look until the
        track ends, not its whole frame); size: the frame's (height, width)."""
        h = _dhash(crop)
        seen_at = c.seen_at if c.seen_at is not None else time.time()
        hour = time.strftime("%Y-%m-%dT%H", time.gmtime(seen_at))

        def insert(db):
            if db.execute("SELECT 1 FROM faces WHERE key = ?", (c.key,)).fetchone():
                return None
            # Near-identical crops of one camera (a person standing still) are kept once.
            for (other,) in db.execute("SELECT dhash FROM faces WHERE camera = ? ORDER BY id DESC LIMIT 200", (c.camera,)):
                if bin((other ^ h) & 0xFFFFFFFFFFFFFFFF).count("1") <= 2:
                    return None
            if per_hour is not None:
                n = db.execute("SELECT count(*) FROM faces WHERE camera = ? AND hour = ?", (c.camera, hour)).fetchone()[0]
                if n >= per_hour:
                    # Full: the new face takes the place of the surest unanswered one, if it is less sure.
                    row = db.execute(
                        "SELECT id, unsureness FROM faces WHERE camera = ? AND hour = ? AND label IS NULL AND why NOT IN ('sample', 'extra') "
                        "ORDER BY unsureness LIMIT 1",
                        (c.camera, hour),
                    ).fetchone()
                    if row is None or row["unsureness"] >= c.unsureness:
                        return None
                    self._delete(db, row["id"])
            cur = db.execute(
                "INSERT INTO faces (key, source, camera, seen_at, hour, frame, track_id, box, width, height, landmarks, probs, face_score, "
                "predicted, why, unsureness, dhash, margin, model) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    c.key,
                    c.source,
                    c.camera,
                    seen_at,
                    hour,
                    c.frame,
                    c.track_id,
                    json.dumps([round(float(v), 1) for v in c.box]),
                    int(size[1]),
                    int(size[0]),
                    None if c.landmarks is None else json.dumps(c.landmarks),
                    json.dumps({k: round(float(v), 4) for k, v in c.probs.items()}),
                    float(c.face_score),
                    c.predicted,
                    c.why,
                    float(c.unsureness),
                    h,
                    float(margin),
                    model,
                ),
            )
            face_id = cur.lastrowid
            # Written inside the transaction: a face is never in the table without its crops.
            _write_jpeg(self.crops / f"{face_id}.jpg", crop)
            _write_jpeg(self.crops / f"{face_id}_context.jpg", context)
            return face_id

        return self._run(insert)

    def _delete(self, db, face_id: int) -> None:
        db.execute("DELETE FROM faces WHERE id = ?", (face_id,))
        for name in (f"{face_id}.jpg", f"{face_id}_context.jpg"):
            (self.crops / name).unlink(missing_ok=True)

    # -- the person's side ----------------------------------------------------------------

    def next_face(self, client: str = "", exclude: tuple[int, ...] = ()) -> dict | None:
        """The least sure face nobody has answered and no other tab holds (leased LEASE_S)."""
        now = time.time()

        def pick(db):
            marks = ",".join("?" * len(exclude))
            row = db.execute(
                "SELECT * FROM faces WHERE label IS NULL AND lease_until < ?"
                + (f" AND id NOT IN ({marks})" if exclude else "")
                + " ORDER BY why IN ('sample', 'extra'), unsureness DESC, id LIMIT 1",
                (now, *exclude),
            ).fetchone()
            if row is None:
                return None
            db.execute("UPDATE faces SET lease_until = ? WHERE id = ?", (now + LEASE_S, row["id"]))
            return _face_dict(row)

        return self._run(pick)

    def answer(self, face_id: int, label: str | None, client: str = "") -> dict:
        """Record an answer (a label of ANSWERS, or None to skip: the face goes back in the queue
        after other faces). Every answer is kept in `answers`, so two tabs never lose one."""
        if label is not None and label not in ANSWERS:
            raise ValueError(f"unknown answer {label!r}: one of {', '.join(ANSWERS)}")

        def record(db):
            row = db.execute("SELECT label FROM faces WHERE id = ?", (face_id,)).fetchone()
            if row is None:
                raise KeyError(face_id)
            if label is None:  # skip: shown again after the others
                db.execute("UPDATE faces SET lease_until = ? WHERE id = ?", (time.time() + LEASE_S, face_id))
                return {"id": face_id, "label": row["label"]}
            db.execute("UPDATE faces SET label = ?, answered_at = ?, lease_until = 0 WHERE id = ?", (label, time.time(), face_id))
            db.execute(
                "INSERT INTO answers (face_id, label, previous, at, client) VALUES (?, ?, ?, ?, ?)",
                (face_id, label, row["label"], time.time(), client),
            )
            return {"id": face_id, "label": label}

        return self._run(record)

    def undo(self, client: str = "") -> dict | None:
        """Take back this client's last answer not yet undone: the face is open again (or has the
        answer it had before)."""

        def back(db):
            row = db.execute(
                "SELECT seq, face_id, previous FROM answers WHERE client = ? AND undone = 0 AND label IS NOT NULL ORDER BY seq DESC LIMIT 1",
                (client,),
            ).fetchone()
            if row is None:
                return None
            db.execute("UPDATE answers SET undone = 1 WHERE seq = ?", (row["seq"],))
            db.execute(
                "UPDATE faces SET label = ?, answered_at = CASE WHEN ? IS NULL THEN NULL ELSE answered_at END, lease_until = 0 WHERE id = ?",
                (row["previous"], row["previous"], row["face_id"]),
            )
            face = db.execute("SELECT * FROM faces WHERE id = ?", (row["face_id"],)).fetchone()
            return _face_dict(face)

        return self._run(back)

    def label_many(self, labels: dict[int, str], client: str = "import") -> int:
        """Answers from elsewhere (an annotation file): {face id: label}; returns how many."""
        for label in labels.values():
            if label not in ANSWERS:
                raise ValueError(f"unknown answer {label!r}")

        def record(db):
            now = time.time()
            for face_id, label in labels.items():
                prev = db.execute("SELECT label FROM faces WHERE id = ?", (face_id,)).fetchone()
                db.execute("UPDATE faces SET label = ?, answered_at = ? WHERE id = ?", (label, now, face_id))
                db.execute(
                    "INSERT INTO answers (face_id, label, previous, at, client) VALUES (?, ?, ?, ?, ?)",
                    (face_id, label, prev["label"] if prev else None, now, client),
                )
            return len(labels)

        return self._run(record)

    # -- reading --------------------------------------------------------------------------

    def faces(self, answered: bool | None = None) -> list[dict]:
        where = "" if answered is None else ("WHERE label IS NOT NULL" if answered else "WHERE label IS NULL")
        return [_face_dict(r) for r in self._read(f"SELECT * FROM faces {where} ORDER BY id")]

    def counts(self) -> dict:
        rows = self._read("SELECT label, why, count(*) AS n FROM faces GROUP BY label, why")
        out = {"faces": 0, "answered": 0, "open": 0, "labels": dict.fromkeys(ANSWERS, 0), "why": {}}
        for r in rows:
            out["faces"] += r["n"]
            out["why"][r["why"]] = out["why"].get(r["why"], 0) + r["n"]
            if r["label"] is None:
                out["open"] += r["n"]
            else:
                out["answered"] += r["n"]
                out["labels"][r["label"]] = out["labels"].get(r["label"], 0) + r["n"]
        return out

    def crop_path(self, face_id: int, context: bool = False) -> Path:
        return self.crops / (f"{face_id}_context.jpg" if context else f"{face_id}.jpg")

    def read_crop(self, face_id: int) -> np.ndarray:
        path = self.crop_path(face_id)
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"review store {self.path}: crop {path.name} is missing or damaged")
        return image


def _write_jpeg(path: Path, image: np.ndarray) -> None:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    if not ok:
        raise ValueError(f"cannot encode {path.name}")
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(buf.tobytes())
    tmp.replace(path)


def _face_dict(row: sqlite3.Row) -> dict:
    d = dict(row)
    for k in ("box", "landmarks", "probs"):
        if d.get(k) is not None:
            d[k] = json.loads(d[k])
    d.pop("lease_until", None)
    return d
