"""The classifier network: a small MobileNet-style stack of depthwise-separable convolutions.

Built for a Raspberry Pi class CPU and for int8: ReLU6 and batch normalisation (folded into the
convolutions on export), no squeeze-excite or swish, which quantise poorly. The model takes
pixel values 0–255 and rescales them inside the graph, so the device feeds the uint8 pixels of
:func:`edge.inference.preprocess.preprocess` with only the int8 offset applied.
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
