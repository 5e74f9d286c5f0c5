"""Merge classifiers into one ONNX file that averages their probabilities.

Two classifiers trained on different data (e.g. with and without --synth-incorrect) disagree on
the hard faces in different ways; their mean ranks them better than either (docs/experiments.md). One
file keeps the inference path unchanged: one session, one call per batch of crops.
"""

from __future__ import annotations

import json
from pathlib import Path


def merge_classifiers(paths: list[str | Path], out: str | Path) -> dict:
    """Write `out`, whose output `probs` is the mean of the models' `probs`; returns its metadata."""
    import onnx
    from onnx import compose, helper

    if len(paths) < 2:
        raise ValueError("give at least two classifier models to merge")
    models = []
    for p in paths:
        try:
            models.append(onnx.load(str(p)))
        except Exception as exc:  # protobuf's decode errors have no common public base
            raise ValueError(f"cannot read {p} as an ONNX model: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    metas = [{p.key: p.value for p in m.metadata_props} for m in models]
    for key in ("labels", "input_size", "margin"):
        values = {m.get(key) for m in metas}
        if len(values) != 1:
            raise ValueError(f"the models differ in {key} ({', '.join(map(str, values))}): they cannot be averaged")
    opsets = {(o.domain, o.version) for m in models for o in m.opset_import}
    if len(opsets) != 1:
        raise ValueError("the models use different ONNX opsets: export them with the same maskwatch")
    graphs = []
    for k, m in enumerate(models):
        if [i.name for i in m.graph.input] != ["crops"] or [o.name for o in m.graph.output] != ["probs"]:
            raise ValueError(f"{paths[k]} is not a maskwatch classifier (input crops, output probs)")
        graphs.append(compose.add_prefix(m, f"m{k}_").graph)
    nodes, inits, outs = [], [], []
    for g in graphs:
        # Every branch reads the one shared input.
        for node in g.node:
            node.input[:] = ["crops" if name == g.input[0].name else name for name in node.input]
        nodes.extend(g.node)
        inits.extend(g.initializer)
        outs.append(g.output[0].name)
    nodes.append(helper.make_node("Mean", outs, ["probs"], name="ensemble_mean"))
    graph = helper.make_graph(nodes, "maskwatch_ensemble", [models[0].graph.input[0]], [models[0].graph.output[0]], inits)
    merged = helper.make_model(graph, opset_imports=models[0].opset_import, producer_name="maskwatch")
    # The members' IR version, not this onnx release's newest: an ONNX Runtime that runs the members
    # must run the merge too (onnx 1.23 writes IR 14, which ONNX Runtime 1.30 refuses).
    merged.ir_version = min(m.ir_version for m in models)
    meta = dict(metas[0])
    meta["architecture"] = f"mean of {len(models)}: " + "; ".join(m.get("architecture", "?") for m in metas)
    meta["members"] = json.dumps([{"file": Path(p).name, "trained_on": m.get("trained_on")} for p, m in zip(paths, metas)])
    meta.pop("trained_on", None)
    # The mean of two models beat one model with a mirrored second look, at less cost (docs/experiments.md).
    meta["mirror_unsure"] = "false"
    for k, v in meta.items():
        merged.metadata_props.add(key=k, value=v)
    onnx.checker.check_model(merged)
    onnx.save(merged, str(out))
    return meta
