"""`maskwatch export-web DIR`: a static page that finds and labels faces with no server code.

The page (index.html, app.js, pipeline.js) runs the shipped ONNX models with ONNX Runtime Web
(wasm). config.json carries every setting it needs, taken here from the package's own settings
and model files, so the browser and Python share one home for each default. The ONNX Runtime
files (about 15 MB of wasm) are not in the package: `setup.sh` fetches the pinned npm package
into web/node_modules (web/package-lock.json), and this copies the three files the page loads.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from ..errors import MaskwatchError

ORT_VERSION = "1.31.1"  # web/package.json pins the same
ORT_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
PAGE_FILES = ("index.html", "app.js", "pipeline.js", "tracker.js")
HERE = Path(__file__).resolve().parent
# The page's tracker (tracker.js) joins a detection to a track at this IoU or more, or else to
# the nearest predicted centre within this many face heights: its own settings; the rest of its
# rules are the package's TrackerConfig.
PAGE_TRACK_IOU = 0.3
PAGE_TRACK_MAX_JUMP = 1.0
ORT_LICENCE = """onnxruntime-web {version} (npm), https://github.com/microsoft/onnxruntime

MIT License

Copyright (c) Microsoft Corporation

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""


def find_ort(given: str | os.PathLike | None = None) -> Path:
    """The dist folder of npm onnxruntime-web: given, $MASKWATCH_ORT_WEB, or the checkout's web/."""
    candidates = [Path(given)] if given else []
    if not given and os.environ.get("MASKWATCH_ORT_WEB"):
        candidates.append(Path(os.environ["MASKWATCH_ORT_WEB"]))
    if not candidates:
        candidates.append(HERE.parents[2] / "web" / "node_modules" / "onnxruntime-web" / "dist")
    for dist in candidates:
        if all((dist / f).is_file() for f in ORT_FILES):
            return dist
    raise MaskwatchError(
        f"ONNX Runtime Web {ORT_VERSION} not found in {candidates[0]}: run `npm ci --prefix web` in a maskwatch "
        "checkout (setup.sh does), or give --ort DIR (the dist folder of npm onnxruntime-web)"
    )


def page_config(detector) -> dict:
    """Everything the page's pipeline.js reads, from a pipeline.Detector (photo settings)."""
    from ..detectors import retinaface as rf
    from ..settings import VIDEO
    from ..video.tracking import TrackerConfig

    faces = detector.face_detector
    if not isinstance(faces, rf.RetinaFace):
        raise MaskwatchError(f"the page runs the RetinaFace detectors only, not {faces.name}")
    spec, cls = faces.spec, detector.classifier
    photo = detector.settings
    rejects = cls.rejects_non_faces
    weights = cls.balancing_weights()
    return {
        # The header of every maskwatch output (`image --json`): the page's JSON download has it too.
        "model": detector.info(),
        "labels": list(cls.labels),
        "files": {"detector": "models/face_detector.onnx", "classifier": "models/mask_classifier.onnx"},
        "detector": {
            "name": faces.name,
            "mean_bgr": list(spec.mean_bgr),
            "strides": list(spec.strides),
            "anchor_sizes": [list(a) for a in spec.anchor_sizes],
            "variances": list(spec.variances),
            "box_adjust": list(faces.box_adjust),
            "upscale": photo.upscale,
            "max_side": photo.max_side,
            "pyramid": photo.pyramid,
            "nms_iou": photo.nms_iou,
            "one_pass_max_face_px": rf.ONE_PASS_MAX_FACE_PX,
            "fine_max_face_px": rf.FINE_MAX_FACE_PX,
            "coarse_side": rf.COARSE_SIDE,
            "coarse_min_face_px": rf.COARSE_MIN_FACE_PX,
            "inside_share": rf.INSIDE_SHARE,
        },
        "classifier": {
            "name": cls.name,
            "labels": list(cls.labels),
            "model_labels": list(cls.model_labels),
            "input_size": cls.input_size,
            "margin": cls.margin,
            "flip_below": cls.flip_below,
            "balancing_weights": None if weights is None else [float(w) for w in weights],
        },
        "face_score_trust": list(photo.face_trust),
        "modes": {
            "photo": {
                "upscale": photo.upscale,
                "conf": photo.conf,
                "flip": cls.flip if photo.flip is None else photo.flip,
                "use_faceness": rejects,
            },
            # Video labels with the mask classes only; the face score is the detector's.
            "video": {"upscale": VIDEO.upscale, "conf": VIDEO.conf, "flip": bool(VIDEO.flip), "use_faceness": False},
        },
        "tracker": {
            "iou": PAGE_TRACK_IOU,
            "max_jump": PAGE_TRACK_MAX_JUMP,
            **{
                k: getattr(TrackerConfig(), k)
                for k in ("smoothing", "min_observations", "label_after", "confident", "switch", "lost_frames")
            },
        },
        "settings": photo.to_dict(),
    }


def export_web(out: str | os.PathLike, ort: str | os.PathLike | None = None, detector=None) -> Path:
    """Write the page to `out` (created; files already there are replaced)."""
    from .._version import __version__
    from ..pipeline import Detector
    from ..settings import PHOTO

    dist = find_ort(ort)
    detector = detector or Detector(PHOTO)
    cfg = page_config(detector)
    cfg["version"] = __version__
    out = Path(out)
    try:
        (out / "models").mkdir(parents=True, exist_ok=True)
        (out / "ort").mkdir(exist_ok=True)
        for name in PAGE_FILES:
            shutil.copyfile(HERE / name, out / name)
        for name in ORT_FILES:
            shutil.copyfile(dist / name, out / "ort" / name)
        (out / "ort" / "LICENSE.txt").write_text(ORT_LICENCE.format(version=ORT_VERSION))
        from ..detectors.retinaface import detector_weights

        (out / cfg["files"]["detector"]).write_bytes(detector_weights(detector.face_detector.spec))
        shutil.copyfile(detector.classifier.path, out / cfg["files"]["classifier"])
        (out / "config.json").write_text(json.dumps(cfg, indent=1))
    except OSError as exc:
        raise MaskwatchError(f"cannot write the page to {out}: {exc.strerror or exc}") from None
    return out
