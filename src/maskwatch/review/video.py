"""`--review STORE` on video and site cameras: one face per track, at its least sure look.

A track is looked at while it lives (its label, and how close its two likeliest labels are);
when it ends, it is kept if its label flipped, if it stayed unsure, or as one of the few sure
ones sampled. Only the crops of its least sure frame are held meanwhile, never frames.
"""

from __future__ import annotations

import time

from ..crops import crop_face
from .select import ReviewPolicy, judge
from .store import CROP_SIZE, Candidate, ReviewStore, context_image


class TrackReviewer:
    def __init__(
        self,
        store: str,
        camera: str,
        source: str,
        conf: float,
        margin: float,
        model: str | None = None,
        policy: ReviewPolicy | None = None,
        log=print,
    ):
        self.store = ReviewStore(store)  # a bad store is one line before the camera opens
        self.camera, self.source, self.conf, self.margin, self.model = camera, str(source), conf, margin, model
        self.policy = policy or ReviewPolicy()
        self.kept = self.tracks = 0
        self._open: dict[int, dict] = {}
        self._log = log
        self._failed = False
        self._run = f"{time.time():.0f}"  # track ids restart with each run: part of the key

    def observe(self, image, step) -> None:
        for f in step.faces:
            if f.track_id is None or not f.probs:
                continue
            st = self._open.setdefault(f.track_id, {"labels": set(), "margin": 2.0})
            if f.label:
                st["labels"].add(f.label)
            p = sorted(f.probs.values(), reverse=True)
            margin = p[0] - (p[1] if len(p) > 1 else 0.0)
            if margin < st["margin"]:  # the least sure look so far: its crops, not the frame
                st.update(
                    margin=margin,
                    crop=crop_face(image, f.box, self.margin, CROP_SIZE),
                    context=context_image(image, f.box),
                    size=image.shape[:2],
                    face=f,
                    frame=step.index,
                    at=time.time(),
                )

    def end(self, tracks) -> None:
        for t in tracks:
            st = self._open.pop(t.id, None)
            if st is None or "face" not in st or not t.counted:  # a short false track is nobody
                continue
            self.tracks += 1
            f = st["face"]
            key = f"{self.camera}|{self.source}|{self._run}|{t.id}"
            verdict = (
                ("flip", 1.0 - st["margin"]) if len(st["labels"]) > 1 else judge(f.probs, f.face_score, f.box, self.conf, key, self.policy)
            )
            if verdict is None:
                continue
            c = Candidate(
                self.source,
                self.camera,
                f.box,
                f.probs,
                f.face_score,
                t.final or f.label,
                *verdict,
                key=key,
                frame=st["frame"],
                track_id=t.id,
                seen_at=st["at"],
            )
            try:
                if (
                    self.store.add_crops(st["crop"], st["context"], st["size"], c, self.margin, self.model, self.policy.per_hour)
                    is not None
                ):
                    self.kept += 1
            except (ValueError, OSError) as exc:  # the store must never stop a camera
                if not self._failed:
                    self._log(f"review store: {exc} (faces are not kept meanwhile)")
                self._failed = True
