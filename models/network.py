"""The classifier network: a small MobileNet-style stack of depthwise-separable convolutions.

Built for a Raspberry Pi class CPU and for int8: ReLU6 and batch normalisation (folded into the
convolutions on export), no squeeze-excite or swish, which quantise poorly. The model takes
pixel values 0–255 and rescales them inside the graph, so the device feeds the uint8 pixels of
:func:`agrifleet.inference.preprocess.preprocess` with only the int8 offset applied.
"""

from __future__ import annotations

from typing import Any

#: (output channels, stride) of each depthwise-separable block, before the width multiplier.
BLOCKS: tuple[tuple[int, int], ...] = (
    (64, 2),
    (128, 1), (128, 1),
    (256, 2), (256, 1),
    (512, 2), (512, 1), (512, 1),
    (768, 2), (768, 1),
)


def build_model(
    num_classes: int, size: int = 128, width: float = 0.5, dropout: float = 0.2
) -> Any:
    """A Keras model: uint8-range RGB (size, size, 3) in, class probabilities out."""
    import keras
    from keras import layers

    def ch(c: int) -> int:
        return max(8, int(c * width + 4) // 8 * 8)

    def conv_bn(x: Any, filters: int, kernel: int, stride: int) -> Any:
        x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization(momentum=0.9)(x)
        return layers.ReLU(6.0)(x)

    inputs = keras.Input((size, size, 3), name="image")
    x = layers.Rescaling(1 / 127.5, offset=-1.0)(inputs)
    x = conv_bn(x, ch(32), 3, 2)
    for filters, stride in BLOCKS:
        x = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.ReLU(6.0)(x)
        x = conv_bn(x, ch(filters), 1, 1)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="leaf_disease_net")


#: Views the exported model averages over: (flip rows, flip columns) for each.
VIEWS: dict[int, tuple[tuple[bool, bool], ...]] = {
    1: ((False, False),),
    2: ((False, False), (False, True)),
    4: ((False, False), (False, True), (True, False), (True, True)),
}


def with_view_averaging(model: Any, views: int) -> Any:
    """The model wrapped so it classifies ``views`` mirrored copies of the photo and averages.

    A leaf has no up or down, left or right: the same photo mirrored is the same leaf, and
    averaging the probabilities of the mirrored copies evens out what one view gets wrong
    (test-time augmentation). The copies run as one batch inside the graph, so the exported
    ``.tflite`` still takes one image and gives one answer; it costs ``views`` times the
    compute of one pass, and no extra weights.
    """
    if views == 1:
        return model
    if views not in VIEWS:
        raise ValueError(f"views must be one of {sorted(VIEWS)}, not {views}")
    import keras
    from keras import ops

    inputs = keras.Input(model.input_shape[1:], name="image")
    copies = []
    for flip_rows, flip_cols in VIEWS[views]:
        x = inputs
        if flip_rows:
            x = ops.flip(x, axis=1)
        if flip_cols:
            x = ops.flip(x, axis=2)
        copies.append(x)
    probabilities = model(ops.concatenate(copies, axis=0))
    classes = model.output_shape[-1]
    averaged = ops.mean(ops.reshape(probabilities, (views, -1, classes)), axis=0)
    return keras.Model(inputs, averaged, name=f"{model.name}_x{views}")
