"""Run an ONNX graph with torch ops, its float initializers as trainable parameters.

Written for the RetinaFace graph we ship (16 op types; BatchNorm already folded into the convs):
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
        for init in self.graph.initializer:
            arr = numpy_helper.to_array(init)
            if arr.dtype == np.float32 and arr.ndim >= 1:
                self._index[init.name] = len(self.weights)
                self.weights.append(torch.nn.Parameter(torch.from_numpy(arr.copy())))
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
            elif op == "Slice":
                out = i[0][int(i[1][0]) : int(i[2][0])]
            elif op == "Cast":
                out = i[0].to(torch.int64)
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
                arr = self.weights[self._index[init.name]].detach().cpu().numpy().astype(np.float32)
                init.CopyFrom(numpy_helper.from_array(arr, init.name))
        return new
