"""Static INT8 quantization of a face detector (ONNX Runtime, QDQ), calibrated on annotated photos
prepared exactly as the pipeline prepares them. An experiment: the shipped detector stays float
(model card: INT8 was faster but lost most small faces).

    python scripts/quantize_detector.py --detector finetuned --annotations ../shared/data/kaggle-853/annotations.json \\
        --split ../shared/data/kaggle-853/split.json --part train --out det_int8.onnx
    maskwatch evaluate --detector det_int8.onnx --annotations ... --split ... --part ...
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path


def main() -> None:
    import onnx
    from onnx import version_converter
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from maskwatch.datasets import load_annotations
    from maskwatch.detectors import retinaface
    from maskwatch.imageio import read_image
    from maskwatch.settings import PHOTO

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--detector", default="finetuned", help="detector name or .onnx (default: %(default)s)")
    ap.add_argument("--annotations", required=True)
    ap.add_argument("--split")
    ap.add_argument("--part", help="calibrate on this part only (use a training part, never the test part)")
    ap.add_argument("--photos", type=int, default=40, help="calibration photos, spread over the part (default: %(default)s)")
    ap.add_argument("--per-channel", action="store_true", help="one scale per output channel of each weight")
    ap.add_argument("--float-heads", action="store_true", help="leave the box, score and landmark heads in float")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    faces = retinaface.load(PHOTO.but(conf=0.5), args.detector)  # RetinaFace only: its graph is quantized
    spec = faces.spec
    photos = load_annotations(args.annotations, args.split, args.part)
    step = max(1, len(photos) // args.photos)
    calibration = [
        faces.prepare(im, faces.scale_for(*im.shape[:2]))[0] for im in (read_image(p.path) for p in photos[::step][: args.photos])
    ]

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._it = iter(calibration)

        def get_next(self):
            x = next(self._it, None)
            return None if x is None else {faces._input_name: x}

    with tempfile.TemporaryDirectory() as tmp:
        # The published graph is opset 11; per-axis DequantizeLinear needs 13.
        op13, pre = Path(tmp) / "op13.onnx", Path(tmp) / "pre.onnx"
        model = onnx.load_from_string(retinaface.detector_weights(spec))  # checked by sha256, as at inference
        onnx.save(version_converter.convert_version(model, 13), str(op13))
        quant_pre_process(str(op13), str(pre), skip_symbolic_shape=True)
        exclude = [n.name for n in onnx.load(str(pre)).graph.node if "head" in n.name] if args.float_heads else []
        quantize_static(
            str(pre),
            args.out,
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=args.per_channel,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=exclude,
        )
    print(f"wrote {args.out} (calibrated on {len(calibration)} photos)")


if __name__ == "__main__":
    main()
