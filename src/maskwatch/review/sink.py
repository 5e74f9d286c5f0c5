"""`--review STORE` on photos: a Sink that keeps the faces worth a look from each result.

Sinks get results, not pixels (the results may come from worker processes or a Ray cluster), so
a photo with a face to keep is read again here; most photos have none and cost nothing.
"""

from __future__ import annotations

from ..sinks.base import Sink
from .select import ReviewPolicy, judge
from .store import Candidate, ReviewStore


class ReviewSink(Sink):
    name = "review"

    def __init__(
        self,
        store: str,
        conf: float,
        margin: float,
        model: str | None = None,
        camera: str = "photos",
        policy: ReviewPolicy | None = None,
        log=print,
    ):
        self.store = ReviewStore(store)  # a bad store is one line before any photo
        self.conf, self.margin, self.model, self.camera = conf, margin, model, camera
        self.policy = policy or ReviewPolicy()
        self.kept = self.seen = 0
        self._log = log

    def write(self, result) -> None:
        if result.error or not result.faces:
            return
        import os

        from ..paths import is_local_file

        # Absolute, so `review import` and `export` find the photo from any folder.
        source = os.path.abspath(result.file) if is_local_file(result.file) else result.file
        wanted = []
        for f in result.faces:
            key = f"{source}|{','.join(str(round(v / 4)) for v in f.box)}"  # the same face on a rerun
            verdict = judge(f.probs, f.face_score, f.box, self.conf, key, self.policy)
            if verdict:
                wanted.append(Candidate(source, self.camera, f.box, f.probs, f.face_score, f.label, *verdict, key=key))
        self.seen += len(result.faces)
        if not wanted:
            return
        from ..imageio import read_image

        try:
            image = read_image(result.file)
        except ValueError as exc:  # gone since it was read: the result stands, the faces are not kept
            self._log(f"review: {exc}")
            return
        for c in wanted:
            if self.store.add(image, c, self.margin, self.model, self.policy.per_hour) is not None:
                self.kept += 1

    def stats(self) -> dict:
        return {"faces_seen": self.seen, "faces_kept": self.kept}
