"""OpenVINO sessions with ONNX Runtime's interface (what classify.py and the detectors call)."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class _Port:
    name: str
    shape: list


class _Meta:
    def __init__(self, custom: dict):
        self.custom_metadata_map = custom


class OpenVinoSession:
    def __init__(self, compiled, model):
        self._compiled = compiled
        self._inputs = [
            _Port(p.get_any_name(), [d.get_length() if d.is_static else None for d in p.get_partial_shape()]) for p in model.inputs
        ]
        self._outputs = [_Port(p.get_any_name(), []) for p in model.outputs]
        # ONNX metadata_props arrive as the model's rt_info["framework"].
        try:
            framework = dict(model.get_rt_info()["framework"])
        except (KeyError, RuntimeError, TypeError):
            framework = {}
        self._meta = {k: (v.astype(str) if hasattr(v, "astype") else str(v)) for k, v in framework.items()}
        # An infer request holds its own buffers and is not thread-safe: one per thread (the
        # web server runs several requests at once on one model).
        self._local = threading.local()

    def get_inputs(self):
        return self._inputs

    def get_outputs(self):
        return self._outputs

    def get_modelmeta(self):
        return _Meta(self._meta)

    def run(self, output_names, feeds: dict):
        req = getattr(self._local, "req", None)
        if req is None:
            req = self._local.req = self._compiled.create_infer_request()
        req.infer({name: value for name, value in feeds.items()})
        results = [req.get_output_tensor(i).data.copy() for i in range(len(self._outputs))]
        if output_names is None:
            return results
        index = {p.name: i for i, p in enumerate(self._outputs)}
        return [results[index[n]] for n in output_names]


def make_openvino_session(model: bytes | str, threads: int | None = None, precision: str = "f32") -> OpenVinoSession:
    try:
        import openvino as ov
    except ImportError:
        raise ValueError("runtime openvino needs OpenVINO: pip install 'maskwatch[openvino]'") from None
    core = ov.Core()
    if precision == "bf16" and "BF16" not in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        raise ValueError("runtime openvino-bf16: this CPU has no bfloat16 support (use openvino or onnxruntime)")
    net = core.read_model(model=model) if isinstance(model, str) else core.read_model(model=model, weights=b"")
    config = {
        "INFERENCE_PRECISION_HINT": precision,
        "INFERENCE_NUM_THREADS": threads or max(1, os.cpu_count() or 1),
        "PERFORMANCE_HINT": "LATENCY",
    }
    return OpenVinoSession(core.compile_model(net, "CPU", config), net)
