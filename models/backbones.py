"""ImageNet-pretrained backbones rebuilt as Keras layers from their PyTorch state dicts.

Two backbones, both made of ReLU6 inverted-residual blocks with no squeeze-excite, which
quantise to full-integer int8 well:

- ``efficientnet-lite0`` (Tan & Le 2019): TensorFlow's "same" padding (the PyTorch port pads
  the same way), batch-norm epsilon 1e-3, pixels scaled as (x - 127) / 128;
- ``mobilenet-v2`` (Sandler et al. 2018, torchvision's weights): explicit symmetric padding,
  batch-norm epsilon 1e-5, ImageNet mean and standard deviation.

Each model takes uint8-range RGB pixels (the device's preprocessing) and normalises inside the
graph, like the earlier networks. Layers are named ``b{i}_…`` by block index so that a model
can be cut after a block (:func:`split_at`) and the part before it frozen and cached.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Block:
    """One inverted-residual block: expansion ratio, kernel, stride, output channels."""

    expand: int
    kernel: int
    stride: int
    out: int


def _stages(spec: list[tuple[int, int, int, int, int]]) -> list[Block]:
    blocks = []
    for repeats, expand, kernel, stride, out in spec:
        for r in range(repeats):
            blocks.append(Block(expand, kernel, stride if r == 0 else 1, out))
    return blocks


#: (repeats, expansion, kernel, first stride, output channels) per stage.
LITE0_BLOCKS = _stages([(1, 1, 3, 1, 16), (2, 6, 3, 2, 24), (2, 6, 5, 2, 40),
                        (3, 6, 3, 2, 80), (3, 6, 5, 1, 112), (4, 6, 5, 2, 192),
                        (1, 6, 3, 1, 320)])
MOBILENET_V2_BLOCKS = _stages([(1, 1, 3, 1, 16), (2, 6, 3, 2, 24), (3, 6, 3, 2, 32),
                               (4, 6, 3, 2, 64), (3, 6, 3, 1, 96), (3, 6, 3, 2, 160),
                               (1, 6, 3, 1, 320)])


@dataclass(frozen=True)
class BackboneSpec:
    name: str
    blocks: list[Block]
    bn_epsilon: float
    tf_same_padding: bool
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    #: state-dict key of each weight, by our layer name
    keys: Callable[[int, Block], dict[str, str]]
    stem_keys: tuple[str, str]
    head_keys: tuple[str, str]
    classifier_key: str


def _lite0_keys(i: int, block: Block) -> dict[str, str]:
    p = f"_blocks.{i}."
    keys = {"dw": p + "_depthwise_conv", "dw_bn": p + "_bn1",
            "project": p + "_project_conv", "project_bn": p + "_bn2"}
    if block.expand != 1:
        keys |= {"expand": p + "_expand_conv", "expand_bn": p + "_bn0"}
    return keys


def _mobilenet_keys(i: int, block: Block) -> dict[str, str]:
    p = f"features.{i + 1}.conv."
    if block.expand == 1:
        return {"dw": p + "0.0", "dw_bn": p + "0.1", "project": p + "1", "project_bn": p + "2"}
    return {"expand": p + "0.0", "expand_bn": p + "0.1", "dw": p + "1.0", "dw_bn": p + "1.1",
            "project": p + "2", "project_bn": p + "3"}


SPECS: dict[str, BackboneSpec] = {
    "efficientnet-lite0": BackboneSpec(
        "efficientnet-lite0", LITE0_BLOCKS, 1e-3, True, (127.0,) * 3, (128.0,) * 3,
        _lite0_keys, ("_conv_stem", "_bn0"), ("_conv_head", "_bn1"), "_fc"),
    "mobilenet-v2": BackboneSpec(
        "mobilenet-v2", MOBILENET_V2_BLOCKS, 1e-5, False,
        (0.485 * 255, 0.456 * 255, 0.406 * 255), (0.229 * 255, 0.224 * 255, 0.225 * 255),
        _mobilenet_keys, ("features.0.0", "features.0.1"), ("features.18.0", "features.18.1"),
        "classifier.1"),
}


def build_backbone(name: str, size: int, weights: dict[str, np.ndarray] | None,
                   classes: int | None = None, dropout: float = 0.0) -> Any:
    """A Keras model of the named backbone at ``size`` px with ``weights`` loaded.

    With ``classes`` None the ImageNet classifier is kept (1000 classes: used to check the
    weights); otherwise a new ``classes``-way softmax head named ``probabilities``.
    """
    import keras
    from keras import layers

    spec = SPECS[name]
    eps = spec.bn_epsilon
    assign: list[tuple[Any, list[np.ndarray]]] = []

    def conv(x: Any, filters: int, kernel: int, stride: int, name_: str, key: str | None,
             depthwise: bool = False) -> Any:
        if spec.tf_same_padding or kernel == 1:
            padding = "same"
        else:
            x = layers.ZeroPadding2D(kernel // 2, name=name_ + "_pad")(x)
            padding = "valid"
        if depthwise:
            layer = layers.DepthwiseConv2D(kernel, strides=stride, padding=padding,
                                           use_bias=False, name=name_)
        else:
            layer = layers.Conv2D(filters, kernel, strides=stride, padding=padding,
                                  use_bias=False, name=name_)
        y = layer(x)
        if weights is not None and key is not None:
            w = weights[key + ".weight"]
            assign.append((layer, [w.transpose(2, 3, 0, 1) if depthwise
                                   else w.transpose(2, 3, 1, 0)]))
        return y

    def bn(x: Any, name_: str, key: str | None, act: bool) -> Any:
        layer = layers.BatchNormalization(epsilon=eps, momentum=0.9, name=name_)
        y = layer(x)
        if weights is not None and key is not None:
            assign.append((layer, [weights[key + s] for s in
                                   (".weight", ".bias", ".running_mean", ".running_var")]))
        return layers.ReLU(6.0, name=name_ + "_relu6")(y) if act else y

    inputs = keras.Input((size, size, 3), name="image")
    mean = np.array(spec.mean, np.float32)
    std = np.array(spec.std, np.float32)
    x = layers.Rescaling(1 / std, offset=-mean / std, name="normalise")(inputs)
    x = conv(x, 32, 3, 2, "stem", spec.stem_keys[0])
    x = bn(x, "stem_bn", spec.stem_keys[1], True)
    channels = 32
    for i, block in enumerate(spec.blocks):
        keys = spec.keys(i, block)
        shortcut = x
        hidden = channels * block.expand
        if block.expand != 1:
            x = conv(x, hidden, 1, 1, f"b{i}_expand", keys["expand"])
            x = bn(x, f"b{i}_expand_bn", keys["expand_bn"], True)
        x = conv(x, hidden, block.kernel, block.stride, f"b{i}_dw", keys["dw"], depthwise=True)
        x = bn(x, f"b{i}_dw_bn", keys["dw_bn"], True)
        x = conv(x, block.out, 1, 1, f"b{i}_project", keys["project"])
        x = bn(x, f"b{i}_project_bn", keys["project_bn"], False)
        if block.stride == 1 and channels == block.out:
            x = layers.Add(name=f"b{i}_add")([shortcut, x])
        channels = block.out
    x = conv(x, 1280, 1, 1, "head", spec.head_keys[0])
    x = bn(x, "head_bn", spec.head_keys[1], True)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    if classes is None:
        dense = layers.Dense(1000, activation="softmax", name="imagenet")
        outputs = dense(x)
        if weights is not None:
            w = weights[spec.classifier_key + ".weight"]
            assign.append((dense, [w.T, weights[spec.classifier_key + ".bias"]]))
    else:
        if dropout:
            x = layers.Dropout(dropout, name="dropout")(x)
        outputs = layers.Dense(classes, activation="softmax", name="probabilities")(x)
    model = keras.Model(inputs, outputs, name=name.replace("-", "_"))
    for layer, values in assign:
        layer.set_weights([v.astype(np.float32) for v in values])
    return model


def block_output(model: Any, block: int) -> str:
    """Name of the layer whose output ends block ``block`` (its add, or its projection)."""
    names = {layer.name for layer in model.layers}
    return f"b{block}_add" if f"b{block}_add" in names else f"b{block}_project_bn"


def split_at(model: Any, block: int) -> tuple[Any, Any]:
    """The model cut after ``block``: (frozen part: image → features, top: features → output).

    The top shares its layers (and weights) with ``model``, so training the top trains the
    full model, which is what gets exported.
    """
    import keras

    cut = model.get_layer(block_output(model, block)).output
    frozen = keras.Model(model.input, cut, name="frozen")
    top_input = keras.Input(cut.shape[1:], name="features")
    seen = {id(t) for t in [cut]}
    mapping: dict[int, Any] = {id(cut): top_input}
    # Re-apply every layer after the cut, in order, on the new input.
    started = False
    for layer in model.layers:
        if layer.name == block_output(model, block):
            started = True
            continue
        if not started or isinstance(layer, keras.layers.InputLayer):
            continue
        node = layer._inbound_nodes[0]
        args = [mapping[id(t)] for t in node.input_tensors]
        out = layer(args if len(args) > 1 else args[0])
        mapping[id(node.output_tensors[0])] = out
        seen.add(id(node.output_tensors[0]))
    top = keras.Model(top_input, mapping[id(model.output)], name="top")
    return frozen, top
