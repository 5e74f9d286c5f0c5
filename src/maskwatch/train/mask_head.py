"""A mask-class head for the RetinaFace graph: per anchor, probabilities of the three labels.

It reads the same three SSH feature maps as the face/no-face head, so the detector answers
"face, and which mask state" in one pass, seeing each face at the detector's own scale and with
its surroundings (small faces, which the crop classifier sees only as a few upscaled pixels).
`append_to_proto` writes it into the ONNX graph as an extra output, MASK_OUTPUT.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..types import LABELS

MASK_OUTPUT = "mask"


def feature_inputs(proto) -> list[str]:
    """Names of the feature maps the face/no-face head reads, one per pyramid level."""
    convs = [n for n in proto.graph.node if n.op_type == "Conv" and n.input[1].startswith("class_head.")]
    if not convs:
        raise ValueError("not a RetinaFace graph: no class_head convolutions")
    return [n.input[0] for n in convs]


def head_anchors(proto) -> int:
    from onnx import numpy_helper

    weights = {i.name: i for i in proto.graph.initializer}
    conv = next(n for n in proto.graph.node if n.op_type == "Conv" and n.input[1].startswith("class_head."))
    return int(numpy_helper.to_array(weights[conv.input[1]]).shape[0]) // 2


class MaskHead(nn.Module):
    """Per level: depthwise 3x3 + pointwise 1x1 (cheap context), then 1x1 to anchors x classes logits."""

    def __init__(self, levels: int = 3, channels: int = 64, anchors: int = 2, classes: int = len(LABELS)):
        super().__init__()
        self.anchors, self.classes = anchors, classes
        self.levels = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(channels, channels, 3, padding=1, groups=channels),
                nn.ReLU(),
                nn.Conv2d(channels, channels, 1),
                nn.ReLU(),
                nn.Conv2d(channels, anchors * classes, 1),
            )
            for _ in range(levels)
        )

    def forward(self, features) -> torch.Tensor:
        """Logits (n, anchors, classes), anchors ordered as the face head's (level, cell, anchor)."""
        out = [m(f).permute(0, 2, 3, 1).reshape(f.shape[0], -1, self.classes) for f, m in zip(features, self.levels)]
        return torch.cat(out, 1)


def append_to_proto(proto, head: MaskHead, labels=LABELS):
    """A copy of `proto` with `head` added: output MASK_OUTPUT, (n, anchors, classes) probabilities."""
    import json

    import onnx
    from onnx import TensorProto, helper, numpy_helper

    new = onnx.ModelProto()
    new.CopyFrom(proto)
    g = new.graph
    shape_name = "mask_head.shape"
    g.initializer.append(numpy_helper.from_array(np.array([0, -1, head.classes], np.int64), shape_name))
    per_level = []
    for k, (feat, seq) in enumerate(zip(feature_inputs(proto), head.levels)):
        x = feat
        for j, layer in enumerate(seq):
            name = f"mask_head.{k}.{j}"
            if isinstance(layer, nn.Conv2d):
                w, b = f"{name}.weight", f"{name}.bias"
                g.initializer.append(numpy_helper.from_array(layer.weight.detach().cpu().numpy().astype(np.float32), w))
                g.initializer.append(numpy_helper.from_array(layer.bias.detach().cpu().numpy().astype(np.float32), b))
                kh, kw = layer.kernel_size
                p = layer.padding[0]
                g.node.append(
                    helper.make_node(
                        "Conv",
                        [x, w, b],
                        [f"{name}.out"],
                        kernel_shape=[kh, kw],
                        pads=[p, p, p, p],
                        group=layer.groups,
                        strides=[1, 1],
                        dilations=[1, 1],
                    )
                )
            else:
                g.node.append(helper.make_node("Relu", [x], [f"{name}.out"]))
            x = f"{name}.out"
        g.node.append(helper.make_node("Transpose", [x], [f"mask_head.{k}.nhwc"], perm=[0, 2, 3, 1]))
        g.node.append(helper.make_node("Reshape", [f"mask_head.{k}.nhwc", shape_name], [f"mask_head.{k}.flat"]))
        per_level.append(f"mask_head.{k}.flat")
    g.node.append(helper.make_node("Concat", per_level, ["mask_head.logits"], axis=1))
    g.node.append(helper.make_node("Softmax", ["mask_head.logits"], [MASK_OUTPUT], axis=2))
    g.output.append(helper.make_tensor_value_info(MASK_OUTPUT, TensorProto.FLOAT, ["batch", "anchors", head.classes]))
    new.metadata_props.add(key="mask_labels", value=json.dumps(list(labels)))
    onnx.checker.check_model(new)
    return new
