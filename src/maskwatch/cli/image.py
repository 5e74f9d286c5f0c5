"""`maskwatch image`: photos, folders, globs and URLs to annotated copies and JSON/CSV/JSONL/Parquet."""

from __future__ import annotations

import itertools
import sys

from .options import EXIT_OK, EXIT_SOME_FAILED, add_pipeline_options, detector_kwargs, non_negative_int


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
    add_pipeline_options(p)


def run(args) -> int:
    import contextlib
    import os
    from pathlib import Path

    from ..batch import JobSpec, duplicate_stems, run_local
    from ..imageio import expand_inputs, is_url
    from ..sinks import CsvSink, JsonlSink, JsonSink, ParquetSink
    from ..types import LABELS

    stdout_sinks = [name for name, v in (("--json", args.json), ("--csv", args.csv), ("--jsonl", args.jsonl)) if v == "-"]
    if len(stdout_sinks) > 1:
        raise ValueError(f"{' and '.join(stdout_sinks)} cannot all write to stdout")
    if args.resume and (not args.jsonl or args.jsonl == "-"):
        raise ValueError("--resume needs --jsonl FILE (the results written so far tell what to skip)")
    if args.resume and (args.json or args.csv or args.parquet):
        raise ValueError("--resume works with --jsonl only (JSON, CSV and Parquet files are rewritten whole)")
    files = expand_inputs(args.paths)
    if not files:
        raise ValueError(f"no images found in {' '.join(args.paths)}")
    if args.workers < 0:
        raise ValueError("--workers must be 0 or more")
    if args.engine == "ray" and any(is_url(f) for f in files):
        raise ValueError("--engine ray reads local paths and s3://, gs://, ... URIs, not http(s) URLs: run those with the local engine")
    if args.blur and args.no_save:
        raise ValueError("--blur pixelates the annotated images, which --no-save turns off")
    out_dir = None if args.no_save else Path(args.out)
    if out_dir:
        out_dir.mkdir(parents=True, exist_ok=True)
    pipeline_kwargs = detector_kwargs(args)
    if args.workers > 0 or args.engine == "ray":
        # Fail here, in one line, rather than in every worker (a failing Pool initializer respawns forever).
        from ..pipeline import Detector

        Detector(**{**pipeline_kwargs, "threads": 1})
    job = JobSpec(pipeline_kwargs, str(out_dir) if out_dir else None, duplicate_stems(files), blur=args.blur)
    from ..pipeline import model_info

    info = model_info(args.classifier, args.detector, args.labels_from)
    # Summaries go to stderr when stdout carries results, so pipes stay clean.
    report = sys.stderr if stdout_sinks else sys.stdout
    failed = processed = 0
    totals = dict.fromkeys(LABELS, 0)
    with contextlib.ExitStack() as stack:
        sinks = []
        if args.jsonl == "-":
            sinks.append(stack.enter_context(_StdoutJsonl()))
        elif args.jsonl:
            jsonl = stack.enter_context(JsonlSink(args.jsonl, info, resume=args.resume))
            sinks.append(jsonl)
            if jsonl.done:
                before = len(files)
                files = [f for f in files if f not in jsonl.done]
                print(f"maskwatch: resuming: {before - len(files)} file(s) already in {args.jsonl}, {len(files)} to go", file=sys.stderr)
        if args.json:
            sinks.append(stack.enter_context(JsonSink(args.json, info)))
        if args.csv:
            sinks.append(stack.enter_context(CsvSink(args.csv)))
        if args.parquet:
            sinks.append(stack.enter_context(ParquetSink(args.parquet)))
        if args.engine == "ray":
            from ..ray_engine import run_ray
            from ..types import ImageResult

            # Ray's reader fails the whole job on a missing path: report those here instead.
            missing = [f for f in files if "://" not in f and not os.path.exists(f)]
            missing_set = set(missing)
            present = [f for f in files if f not in missing_set]
            results = itertools.chain(
                [ImageResult(file=f, error=f"cannot read {f}: No such file or directory") for f in missing],
                run_ray(present, job, workers=args.workers, address=args.address) if present else [],
            )
        else:
            results = run_local(files, job, workers=args.workers)
        show_bar = not args.no_progress and sys.stderr.isatty() and len(files) > 1
        if show_bar:
            from tqdm import tqdm

            results = tqdm(results, total=len(files), unit="img", desc="maskwatch", dynamic_ncols=True)
        try:
            for result in results:
                processed += 1
                for s in sinks:
                    s.append(result)
                if result.error:
                    failed += 1
                    print(f"maskwatch: error: {result.error}", file=sys.stderr)
                    continue
                for label, k in result.counts().items():
                    totals[label] = totals.get(label, 0) + k
                if not args.quiet:
                    print(result.summary(), file=report)
                    for i, f in enumerate(result.faces, 1):
                        box = ", ".join(f"{v:.0f}" for v in f.box)
                        print(f"  face {i}: {f.label} {f.score:.2f} (face {f.face_score:.2f}) at [{box}]", file=report)
        except KeyboardInterrupt:
            print(
                f"maskwatch: interrupted after {processed} image(s); results so far are written"
                + (" (continue with --resume)" if args.jsonl and args.jsonl != "-" else ""),
                file=sys.stderr,
            )
            return 130
    n = len(files)
    tail = f"; annotated images in {out_dir}/" if out_dir else ""
    print(f"{n - failed}/{n} image(s) processed{tail}", file=sys.stderr)
    print(_totals_line(totals), file=sys.stderr)
    return EXIT_SOME_FAILED if failed else EXIT_OK


def _totals_line(totals: dict[str, int]) -> str:
    """'31 faces: 17 with_mask, 8 without_mask, 6 mask_worn_incorrectly; 55 % with a mask worn right'."""
    n = sum(totals.values())
    if not n:
        return "0 faces"
    parts = ", ".join(f"{v} {k}" for k, v in totals.items())
    return f"{n} face{'s' if n != 1 else ''}: {parts}; {totals.get('with_mask', 0) / n:.0%} with a mask worn right"


class _StdoutJsonl:
    def __enter__(self):
        return self

    def append(self, result) -> None:
        import json

        sys.stdout.write(json.dumps(result.to_dict()) + "\n")

    def __exit__(self, *exc):
        sys.stdout.flush()
