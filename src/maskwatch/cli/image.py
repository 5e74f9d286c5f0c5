"""`maskwatch image`: photos, folders, globs and URLs to annotated copies and JSON/CSV/JSONL/Parquet."""

from __future__ import annotations

import sys

from .options import EXIT_OK, EXIT_SOME_FAILED, add_pipeline_options, add_review_options, non_negative_int, review_sink, settings_from


def add_parser(sub) -> None:
    p = sub.add_parser("image", help="detect masks in photos", description="Detect masks in photos: files, folders or glob patterns.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files, folders (searched recursively) or glob patterns")
    p.add_argument("--out", default="maskwatch-out", help="folder for annotated images (default: %(default)s)")
    p.add_argument("--no-save", action="store_true", help="do not write annotated images")
    p.add_argument("--blur", action="store_true", help="pixelate every detected face in the annotated images (privacy; results unchanged)")
    p.add_argument("--json", metavar="FILE", help="write results as JSON to FILE, or - for stdout")
    p.add_argument("--csv", metavar="FILE", help="write one CSV row per face to FILE, or - for stdout")
    p.add_argument("--jsonl", metavar="FILE", help="write one JSON line per image to FILE (or -): for runs of any size")
    p.add_argument("--parquet", metavar="FILE", help="write one row per image to a Parquet file (needs pyarrow)")
    p.add_argument("--resume", action="store_true", help="skip files already in the --jsonl output and append the rest")
    p.add_argument(
        "--resume-any-settings",
        action="store_true",
        help="with --resume: go on even if the file was written with other models or settings (mixes results)",
    )
    p.add_argument(
        "--workers",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="N worker processes, one inference thread each (default 0: this process, all cores)",
    )
    p.add_argument("--engine", choices=["local", "ray"], default="local", help="run here, or on a Ray cluster (default: %(default)s)")
    p.add_argument("--address", help="with --engine ray: cluster address ('auto', 'ray://head:10001'); default: a local Ray")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--quiet", "-q", action="store_true", help="no per-face summary")
    add_review_options(p)
    add_pipeline_options(p)


def run(args) -> int:
    import contextlib

    from ..imageio import expand_inputs
    from ..photo_job import run_batch
    from ..sinks import photo_sinks

    stdout_sinks = [name for name, v in (("--json", args.json), ("--csv", args.csv), ("--jsonl", args.jsonl)) if v == "-"]
    if len(stdout_sinks) > 1:
        raise ValueError(f"{' and '.join(stdout_sinks)} cannot all write to stdout")
    if args.resume and (not args.jsonl or args.jsonl == "-"):
        raise ValueError("--resume needs --jsonl FILE (the results written so far tell what to skip)")
    if args.resume and (args.json or args.csv or args.parquet):
        raise ValueError("--resume works with --jsonl only (JSON, CSV and Parquet files are rewritten whole)")
    if args.blur and args.no_save:
        raise ValueError("--blur pixelates the annotated images, which --no-save turns off")
    files = expand_inputs(args.paths)
    if not files:
        raise ValueError(f"no images found in {' '.join(args.paths)}")
    check_outputs(args, files)
    from ..pipeline import Detector

    # Built once here: a bad model is one line before any output is opened, and the header
    # records the settings as they run (the face threshold filled in for the classifier).
    detector = Detector(settings_from(args))
    header = {"model": detector.info(), "settings": detector.settings.to_dict()}
    out_dir = None if args.no_save else args.out
    # Summaries go to stderr when stdout carries results, so pipes stay clean.
    report_to = sys.stderr if stdout_sinks else sys.stdout

    def show(result) -> None:
        if result.error:
            print(f"maskwatch: error: {result.error}", file=sys.stderr)
        elif not args.quiet:
            print(result.summary(), file=report_to)
            for i, f in enumerate(result.faces, 1):
                box = ", ".join(f"{v:.0f}" for v in f.box)
                print(f"  face {i}: {f.label} {f.score:.2f} (face {f.face_score:.2f}) at [{box}]", file=report_to)

    with contextlib.ExitStack() as stack:
        sinks = [
            stack.enter_context(s)
            for s in photo_sinks(header, args.json, args.csv, args.jsonl, args.parquet, args.resume, args.resume_any_settings)
        ]
        review = review_sink(args, detector, camera="photos")
        if review is not None:
            sinks.append(stack.enter_context(review))
        done = set().union(*(getattr(s, "done", set()) for s in sinks))
        if done:
            before = len(files)
            files = [f for f in files if f not in done]
            print(f"maskwatch: resuming: {before - len(files)} file(s) already in {args.jsonl}, {len(files)} to go", file=sys.stderr)
        report = run_batch(
            files,
            sinks=sinks,
            out_dir=out_dir,
            blur=args.blur,
            workers=args.workers,
            engine=args.engine,
            address=args.address,
            on_result=show,
            progress=not args.no_progress and sys.stderr.isatty() and len(files) > 1,
            detector=detector,
            log=lambda m: print(f"maskwatch: {m}", file=sys.stderr),
        )
    if report.interrupted:
        print(
            f"maskwatch: interrupted after {report.processed} image(s); results so far are written"
            + (" (continue with --resume)" if args.jsonl and args.jsonl != "-" else ""),
            file=sys.stderr,
        )
        return 130
    n = len(files)
    tail = f"; annotated images in {out_dir}/" if out_dir else ""
    print(f"{n - report.failed}/{n} image(s) processed{tail}", file=sys.stderr)
    print(_totals_line(report.totals), file=sys.stderr)
    if review is not None:
        print(f"review: {review.kept} face(s) kept for a look in {args.review} (of {review.seen})", file=sys.stderr)
    return EXIT_SOME_FAILED if report.failed else EXIT_OK


def check_outputs(args, files: list[str]) -> None:
    """Refused before anything is written: an output that is an input, two outputs on one file,
    and annotated copies in a folder the photos come from (`--out photos/` replaced the originals,
    and `photos/x.png` would overwrite an unrelated `photos/x.jpg`) or inside a folder searched for
    photos (a second run would annotate the annotations)."""
    import os
    from pathlib import Path

    from ..paths import is_local_file, refuse_collisions

    refuse_collisions(
        [("the photo", f) for f in files],
        [("--json", args.json), ("--csv", args.csv), ("--jsonl", args.jsonl), ("--parquet", args.parquet)],
    )
    if args.no_save:
        return
    out = Path(os.path.realpath(args.out))
    searched = {Path(os.path.realpath(p)) for p in args.paths if is_local_file(p) and Path(p).is_dir()}
    parents = {Path(os.path.realpath(f)).parent for f in files if is_local_file(f)}
    for folder in searched | parents:
        if out == folder or (folder in searched and out.is_relative_to(folder)):
            raise ValueError(
                f"--out {args.out}: is (or is inside) {folder}, where the photos are read from: annotated copies would "
                "replace or be mixed with the originals; choose another folder"
            )
    for what, path in (("--json", args.json), ("--csv", args.csv), ("--jsonl", args.jsonl), ("--parquet", args.parquet)):
        if path and is_local_file(path) and Path(os.path.realpath(path)).parent == out and path.lower().endswith(".jpg"):
            raise ValueError(f"{what} {path}: is inside --out {args.out} under an annotated copy's name; write it elsewhere")


def _totals_line(totals: dict[str, int]) -> str:
    """'31 faces: 17 with_mask, 8 without_mask, 6 mask_worn_incorrectly; 55 % with a mask worn right'."""
    n = sum(totals.values())
    if not n:
        return "0 faces"
    parts = ", ".join(f"{v} {k}" for k, v in totals.items())
    return f"{n} face{'s' if n != 1 else ''}: {parts}; {totals.get('with_mask', 0) / n:.0%} with a mask worn right"
