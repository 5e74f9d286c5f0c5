"""Run an ONNX graph with torch ops, its float initializers as trainable parameters.

Written for the graphs we ship, RetinaFace and the MobileNetV2 classifier (BatchNorm already
folded into the convs):
fine-tuning trains these tensors, and `to_proto` writes them back into the same graph, so the
exported model keeps the original's dynamic input size and inference code.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


class OnnxGraphModule(torch.nn.Module):
    def __init__(self, proto):
        super().__init__()
        from onnx import numpy_helper

        self.graph = proto.graph
        self._index: dict[str, int] = {}
        self.weights = torch.nn.ParameterList()
        self._consts: dict[str, torch.Tensor] = {}
        self._dtypes: dict[str, np.dtype] = {}
        for init in self.graph.initializer:
            arr = numpy_helper.to_array(init)
            if arr.dtype in (np.float32, np.float16) and arr.ndim >= 1:
                # Weights stored as float16 (the shipped classifier) train as float32 and are
                # written back as float16.
                self._index[init.name] = len(self.weights)
                self._dtypes[init.name] = arr.dtype
                self.weights.append(torch.nn.Parameter(torch.from_numpy(arr.astype(np.float32))))
            else:
                self._consts[init.name] = torch.from_numpy(np.array(arr))
        self._input = self.graph.input[0].name
        self._outputs = [o.name for o in self.graph.output]

    def _value(self, env: dict, name: str):
        if name in env:
            return env[name]
        if name in self._index:
            return self.weights[self._index[name]]
        return self._consts[name]

    def forward(self, x, extra: tuple[str, ...] = ()):
        """The graph's outputs, then the intermediate tensors named in `extra`."""
        from onnx import helper, numpy_helper

        env = {self._input: x}
        for node in self.graph.node:
            a = {at.name: helper.get_attribute_value(at) for at in node.attribute}
            i = [self._value(env, n) if n else None for n in node.input]
            op = node.op_type
            if op == "Conv":
                pads = a.get("pads", [0, 0, 0, 0])
                out = F.conv2d(
                    i[0],
                    i[1],
                    i[2] if len(i) > 2 else None,
                    a.get("strides", [1, 1]),
                    (pads[0], pads[1]),
                    a.get("dilations", [1, 1]),
                    a.get("group", 1),
                )
            elif op == "LeakyRelu":
                out = F.leaky_relu(i[0], a.get("alpha", 0.01))
            elif op == "Relu":
                out = F.relu(i[0])
            elif op == "Add":
                out = i[0] + i[1]
            elif op == "Identity":
                out = i[0]
            elif op == "Constant":
                out = torch.from_numpy(np.array(numpy_helper.to_array(a["value"])))
            elif op == "Shape":
                out = torch.tensor(i[0].shape, dtype=torch.int64)
            elif op == "Gather":
                # Indices are constants (on the CPU); the data may be on a GPU.
                idx = i[1].to(i[0].device)
                out = i[0][idx] if idx.ndim == 0 else i[0].index_select(a.get("axis", 0), idx)
            elif op == "Unsqueeze":
                out = i[0].unsqueeze(a["axes"][0])
            elif op == "Concat":
                out = torch.cat([t if t.ndim else t.reshape(1) for t in i], a["axis"])
            elif op == "Slice" and len(i) >= 5 and int(i[4][0]) == -1 and int(i[1][0]) == -1 and int(i[2][0]) < -(2**62):
                out = i[0].flip(int(i[3][0]))  # x[..., ::-1] along one axis (BGR -> RGB)
            elif op == "Slice":
                axis = int(i[3][0]) if len(i) >= 4 and i[3] is not None else 0
                if len(i) >= 5 and i[4] is not None and int(i[4][0]) != 1:
                    raise NotImplementedError("Slice with a step other than 1 (or a whole-axis reversal)")
                out = i[0].narrow(axis, 0, i[0].shape[axis])[(slice(None),) * axis + (slice(int(i[1][0]), int(i[2][0])),)]
            elif op == "Cast":
                to = a.get("to", 7)
                out = i[0].to(torch.int64) if to == 7 else i[0].float() if to in (1, 10) else i[0]
            elif op == "Clip":
                lo = None if len(i) < 2 or i[1] is None else float(i[1])
                hi = None if len(i) < 3 or i[2] is None else float(i[2])
                out = torch.clamp(i[0], lo, hi)
            elif op == "Sub":
                out = i[0] - i[1]
            elif op == "Div":
                out = i[0] / i[1]
            elif op == "GlobalAveragePool":
                out = i[0].mean((2, 3), keepdim=True)
            elif op == "Flatten":
                out = i[0].flatten(a.get("axis", 1))
            elif op == "Gemm":
                w = i[1].t() if a.get("transB", 0) else i[1]
                out = a.get("alpha", 1.0) * (i[0] @ w) + (a.get("beta", 1.0) * i[2] if len(i) > 2 and i[2] is not None else 0)
            elif op == "Resize":
                out = F.interpolate(i[0], size=[int(v) for v in i[3][2:]], mode="nearest")
            elif op == "Transpose":
                out = i[0].permute(*a["perm"])
            elif op == "Reshape":
                out = i[0].reshape([int(v) for v in i[1]])
            elif op == "Softmax":
                out = F.softmax(i[0], a.get("axis", -1))
            else:
                raise NotImplementedError(f"ONNX op {op} is not supported by this interpreter")
            env[node.output[0]] = out
        return [env[o] for o in self._outputs] + [env[n] for n in extra]

    def to_proto(self, proto):
        """A copy of `proto` carrying this module's (trained) weights."""
        import onnx
        from onnx import numpy_helper

        new = onnx.ModelProto()
        new.CopyFrom(proto)
        for init in new.graph.initializer:
            if init.name in self._index:
                arr = self.weights[self._index[init.name]].detach().cpu().numpy().astype(self._dtypes.get(init.name, np.float32))
                init.CopyFrom(numpy_helper.from_array(arr, init.name))
        return new
