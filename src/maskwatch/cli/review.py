"""`maskwatch review import|export|status STORE`: answers from an annotation file, answers out as
training data, and what a store holds. Faces get into a store with `--review STORE` on
`image`, `video` and `site`; a person answers at `maskwatch serve --review STORE`."""

from __future__ import annotations

from .options import EXIT_OK


def add_parser(sub) -> None:
    p = sub.add_parser("review", help="import, export or count the faces of a review store", description=__doc__.split("\n\n")[0])
    verbs = p.add_subparsers(dest="review_command", metavar="ACTION", required=True)
    imp = verbs.add_parser("import", help="label the store's open faces from an annotation file (IoU >= 0.5)")
    imp.add_argument("store", metavar="STORE")
    imp.add_argument(
        "--annotations", required=True, metavar="FILE", help="annotations.json as `evaluate` reads it (also FILE:PART), or COCO JSON"
    )
    imp.add_argument(
        "--unmatched",
        choices=["leave", "not_a_face"],
        default="leave",
        help="open faces in an annotated photo that match no box: leave them open (default), or answer not-a-face (for files that box every face)",
    )
    exp = verbs.add_parser("export", help="write the answered faces as class folders, annotations.json and coco.json")
    exp.add_argument("store", metavar="STORE")
    exp.add_argument("out", metavar="DIR", help="a new (or empty) folder")
    st = verbs.add_parser("status", help="faces kept, answered and open, by label")
    st.add_argument("store", metavar="STORE")


def run(args) -> int:
    import json

    from ..review.store import ReviewStore

    store = ReviewStore(args.store, create=False)
    if args.review_command == "import":
        from ..review.io import import_answers

        r = import_answers(store, args.annotations, None if args.unmatched == "leave" else args.unmatched)
        print(
            f"review: {r['labelled']} of {r['open_before']} open face(s) labelled from {args.annotations}; "
            f"{r['unmatched']} in its photos matched no box, {r['not_in_file']} are from photos it does not have"
        )
    elif args.review_command == "export":
        from ..review.io import export_answers

        r = export_answers(store, args.out)
        print(f"review: wrote {r['faces']} answered face(s) from {r['photos']} photo(s) to {args.out}")
    else:
        print(json.dumps(store.counts(), indent=1))
    return EXIT_OK
