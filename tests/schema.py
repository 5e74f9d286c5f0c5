"""The `maskwatch image --json` schema, checked the same way by the CLI and API tests."""

from maskwatch.types import LABELS

FACE_KEYS = {"box", "face_score", "label", "score", "probs"}
REASONS = {"nose uncovered", "chin only", "mouth uncovered", "mask not fitted"}


def check_schema(doc: dict) -> None:
    assert {"model", "images"} <= set(doc)
    assert set(doc["model"]) - {"parts"} == {"classifier", "detector", "labels_from", "version"}
    for img in doc["images"]:
        assert set(img) - {"retry"} == {"file", "width", "height", "error", "faces"}
        assert "retry" not in img or (img["error"] and img["retry"] is True)
        for face in img["faces"]:
            assert set(face) - {"reason"} == FACE_KEYS
            # A reason only on faces worn incorrectly, and only one of the part check's.
            assert "reason" not in face or (face["label"] == "mask_worn_incorrectly" and face["reason"] in REASONS)
            assert len(face["box"]) == 4 and face["label"] in LABELS
            assert set(face["probs"]) == set(LABELS)
            x1, y1, x2, y2 = face["box"]
            assert 0 <= x1 < x2 <= img["width"] and 0 <= y1 < y2 <= img["height"]
