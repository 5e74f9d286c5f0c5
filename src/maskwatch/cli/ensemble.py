"""`maskwatch ensemble`: classifiers merged into one averaging model."""

from __future__ import annotations

import sys

from ..errors import MaskwatchError
from .options import EXIT_OK


def add_parser(sub) -> None:
    p = sub.add_parser(
        "ensemble",
        help="merge classifiers into one model that averages them",
        description="Write one classifier .onnx whose probabilities are the mean of the given ones "
        "(same labels and input size), for --model.",
    )
    p.add_argument("models", nargs="+", metavar="MODEL", help="classifier .onnx files from `maskwatch train`")
    p.add_argument("--out", required=True, help="merged model to write")


def run(args) -> int:
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise MaskwatchError("merging models needs onnx: pip install 'maskwatch[train]'") from None
    from pathlib import Path

    from ..train.ensemble import merge_classifiers

    for path in args.models:
        if not Path(path).is_file():
            raise ValueError(f"classifier model not found: {path}")
    merge_classifiers(args.models, args.out)
    print(f"maskwatch: wrote {args.out} (mean of {len(args.models)} classifiers)", file=sys.stderr)
    return EXIT_OK
