"""Inference runtimes for the same ONNX files: ONNX Runtime (always there) and OpenVINO (the
`openvino` extra). Each session answers what the models' code asks of ONNX Runtime's:
run(None, feeds), get_inputs(), get_outputs(), get_modelmeta().custom_metadata_map.

`runtime`: "onnxruntime", "openvino" (float32), "openvino-bf16" (bfloat16 where the CPU has it:
faster on such CPUs, its accuracy measured in the README), or "auto" (the fastest of those that
run on this machine, measured once per model and cached: runtimes/auto.py). A new
runtime is one new file here and one entry in RUNTIMES.
"""

from __future__ import annotations

RUNTIMES = ("auto", "onnxruntime", "openvino", "openvino-bf16")


def make_session(model: bytes | str, threads: int | None = None, runtime: str = "onnxruntime"):
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    if runtime == "auto":
        from .auto import fastest

        runtime = fastest(model, threads)
    if runtime.startswith("openvino"):
        from .openvino import make_openvino_session

        return make_openvino_session(model, threads, "bf16" if runtime.endswith("bf16") else "f32")
    from .onnxruntime import make_session as make_ort

    return make_ort(model, threads)
