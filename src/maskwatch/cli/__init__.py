"""Command line: `maskwatch VERB ...`, one module per verb (each with `add_parser` and `run`),
mirroring the Python API.

Only argparse is imported at start-up; each verb imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import MaskwatchError
from . import ensemble, evaluate, export_web, image, review, serve, site, train, train_detector, train_parts, video
from .options import EXIT_BUG, EXIT_ERROR, EXIT_OK, EXIT_SOME_FAILED, Parser

__all__ = ["main", "build_parser", "COMMANDS", "EXIT_OK", "EXIT_SOME_FAILED", "EXIT_ERROR", "EXIT_BUG"]

VERBS = {
    "image": image,
    "evaluate": evaluate,
    "video": video,
    "site": site,
    "serve": serve,
    "train": train,
    "train-detector": train_detector,
    "train-parts": train_parts,
    "ensemble": ensemble,
    "export-web": export_web,
    "review": review,
}
COMMANDS = {name: module.run for name, module in VERBS.items()}


def build_parser() -> argparse.ArgumentParser:
    from .._version import __version__

    parser = Parser(prog="maskwatch", description="Find faces and tell: mask, no mask, or mask worn incorrectly.")
    parser.add_argument("--version", action="version", version=f"maskwatch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for module in VERBS.values():
        module.add_parser(sub)
    return parser


def _verb_parser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices.get(command, parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    # A file name that is not UTF-8 must not end a run where it is printed: its odd bytes show as \xNN.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        # The verb's own parser reports it, so 'did you mean' offers that verb's options only.
        _verb_parser(parser, args.command).error(f"unrecognized arguments: {' '.join(extra)}")
    if not args.command:
        parser.print_help()
        return EXIT_ERROR
    try:
        return COMMANDS[args.command](args)
    except (ValueError, MaskwatchError, OSError) as exc:
        # User-facing failures are one line.
        print(f"maskwatch: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("maskwatch: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line here, the whole traceback in a file to report
        return _report_bug(exc)


def _report_bug(exc: BaseException) -> int:
    import tempfile
    import traceback

    with tempfile.NamedTemporaryFile("w", prefix="maskwatch-traceback-", suffix=".txt", delete=False) as fh:
        traceback.print_exception(exc, file=fh)
    print(f"maskwatch: internal error: {type(exc).__name__}: {exc} (traceback in {fh.name}; please report it)", file=sys.stderr)
    return EXIT_BUG


if __name__ == "__main__":
    sys.exit(main())
