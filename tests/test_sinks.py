"""The sinks write the same per-face values, all from Face.to_dict / to_row."""

import csv
import json

import pytest

from maskwatch.sinks import CsvSink, JsonlSink, JsonSink, ParquetSink
from maskwatch.types import LABELS, Face, ImageResult

PROBS = {"with_mask": 0.812345, "without_mask": 0.1, "mask_worn_incorrectly": 0.087655}
RESULTS = [
    ImageResult("a.jpg", 640, 480, [Face((10.04, 20.0, 50.0, 70.0), 0.91234, "with_mask", 0.812345, PROBS)]),
    ImageResult("bad.jpg", error="cannot decode bad.jpg"),
    ImageResult("empty.jpg", 100, 100, []),
]


def test_face_and_result_round_trip_through_dicts():
    for r in RESULTS:
        assert ImageResult.from_dict(json.loads(json.dumps(r.to_dict()))).to_dict() == r.to_dict()
    tracked = Face((1, 2, 3, 4), 0.5, None, 0.6, PROBS, track_id=7)
    assert tracked.to_dict()["track_id"] == 7 and Face.from_dict(tracked.to_dict()) == Face(
        (1, 2, 3, 4), 0.5, None, 0.6, tracked.to_dict()["probs"], 7
    )
    assert "track_id" not in RESULTS[0].faces[0].to_dict()  # photo output unchanged


def test_json_jsonl_csv_parquet_hold_the_same_values(tmp_path):
    face = RESULTS[0].faces[0].to_dict()
    header = {"model": {"m": 1}, "settings": {"upscale": 2.25}}
    with (
        JsonSink(str(tmp_path / "r.json"), header) as s,
        JsonlSink(str(tmp_path / "r.jsonl"), header) as l,
        CsvSink(str(tmp_path / "r.csv")) as c,
    ):
        for r in RESULTS:
            s.write(r), l.write(r), c.write(r)
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["model"] == {"m": 1} and doc["settings"] == {"upscale": 2.25} and doc["images"][0]["faces"] == [face]
    head, *lines = [json.loads(x) for x in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert head == {"maskwatch": header}  # every output records what made it
    assert [x["file"] for x in lines] == ["a.jpg", "bad.jpg", "empty.jpg"] and lines[0]["faces"] == [face]
    rows = list(csv.DictReader(open(tmp_path / "r.csv")))
    assert len(rows) == 2  # one face, one error; the empty image has no row
    assert [float(rows[0][k]) for k in ("x1", "y1", "x2", "y2")] == face["box"]
    assert rows[0]["label"] == "with_mask" and float(rows[0]["p_with_mask"]) == face["probs"]["with_mask"]
    assert rows[1]["error"] == "cannot decode bad.jpg"

    pq = pytest.importorskip("pyarrow.parquet")
    with ParquetSink(str(tmp_path / "r.parquet"), header, rows_per_group=2) as p:
        for r in RESULTS:
            p.write(r)
    assert json.loads(pq.read_schema(tmp_path / "r.parquet").metadata[b"maskwatch"]) == header
    table = pq.read_table(tmp_path / "r.parquet").to_pylist()
    assert [t["file"] for t in table] == ["a.jpg", "bad.jpg", "empty.jpg"]
    got = table[0]["faces"][0]
    assert got["label"] == "with_mask" and got["p_with_mask"] == pytest.approx(face["probs"]["with_mask"])
    assert got["box"] == pytest.approx(face["box"]) and {f"p_{l}" for l in LABELS} <= set(got)


def test_one_failing_output_leaves_the_others_writing(tmp_path):
    # An events file on a full disk (a real OSError from the file system: /dev/full) must not
    # stop the other outputs; the failure is one line and counted.
    from maskwatch.sinks import SinkGroup
    from maskwatch.sinks.events import EventsJsonl

    said = []
    good, full = EventsJsonl(str(tmp_path / "e.jsonl")), EventsJsonl("/dev/full")
    full.name = "events on /dev/full"
    with SinkGroup([full, good], log=said.append) as group:
        for k in range(5):
            group.write({"event": "appear", "track": k})
    assert [json.loads(x)["track"] for x in (tmp_path / "e.jsonl").read_text().splitlines()] == list(range(5))
    assert len(said) == 1 and "events on /dev/full failed" in said[0]
    assert group.stats()["failed"] == {"events on /dev/full": said[0].split("(", 1)[1].split(")")[0]}
    assert group.written == 5
