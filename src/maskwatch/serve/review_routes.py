"""The review page and its API (`maskwatch serve --review STORE`): one face at a time, the least
sure first; every answer is written to the store before the request returns, and a face shown
in one tab is leased so that a second tab gets another."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel  # this module is imported only by `serve --review`

REVIEW_PAGE = Path(__file__).with_name("review.html")


# At module level: the route annotations are strings (postponed) that FastAPI resolves here.
class Answer(BaseModel):
    id: int
    label: str | None = None  # None: skip
    client: str = ""


class Undo(BaseModel):
    client: str = ""


def add_review_routes(app, store, error) -> None:
    from fastapi.responses import FileResponse, HTMLResponse

    from ..review.store import ANSWERS

    @app.get("/review", response_class=HTMLResponse, include_in_schema=False)
    def review_page():
        return HTMLResponse(REVIEW_PAGE.read_text(encoding="utf-8"))

    def with_counts(face: dict | None) -> dict:
        out = {"counts": store.counts(), "answers": list(ANSWERS)}
        if face is not None:
            out["face"] = {
                k: face[k] for k in ("id", "camera", "box", "probs", "face_score", "predicted", "why", "label", "track_id", "frame")
            } | {"source": Path(face["source"]).name}
        return out

    @app.get("/api/review/next")
    def review_next(client: str = "", exclude: str = ""):
        """The next face to answer (the least sure open one no other tab holds), and the counts."""
        ids = tuple(int(x) for x in exclude.split(",") if x.strip().isdigit())[:50]
        return with_counts(store.next_face(client, ids))

    @app.get("/api/review/counts")
    def review_counts():
        return store.counts()

    @app.post("/api/review/answer")
    def review_answer(body: Answer):
        """{"id": N, "label": one of the answers, or null to skip, "client": the tab}."""
        if body.label is not None and body.label not in ANSWERS:
            return error(422, f"label must be one of {', '.join(ANSWERS)} or null (skip)")
        try:
            done = store.answer(body.id, body.label, body.client[:64])
        except KeyError:
            return error(404, f"no face {body.id}")
        return {"answered": done, "counts": store.counts()}

    @app.post("/api/review/undo")
    def review_undo(body: Undo):
        """Take back this tab's last answer: the face comes back."""
        face = store.undo(body.client[:64])
        if face is None:
            return error(404, "nothing to undo")
        return with_counts(face)

    @app.get("/api/review/crop/{face_id}.jpg")
    def review_crop(face_id: int, context: int = 1):
        path = store.crop_path(face_id, context=bool(context))
        if not path.is_file():
            return error(404, f"no crop for face {face_id}")
        return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})
