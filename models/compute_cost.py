"""What one photo costs to classify: multiply-adds counted from the .tflite file, and an
estimated Raspberry Pi 4 latency.

Multiply-adds are counted from the graph itself (the interpreter's op list and tensor shapes,
loaded without any delegate so every op is visible): a convolution costs output elements ×
kernel height × width × input channels, a depthwise one output elements × kernel height ×
width, a fully connected layer output elements × inputs. Everything else (pooling, adds,
softmax, the mirrored views' flips) is under 1 % and not counted. The batch dimension counts:
a model that averages 4 mirrored views inside its graph costs 4 passes per photo.

The Raspberry Pi 4 latency is an **estimate**, not a measurement: multiply-adds divided by the
int8 throughput that a published TFLite figure implies for the Pi 4's CPU (see
:data:`PI4_REFERENCE_MS`). A network with the same kind of layers (3×3 depthwise + 1×1
convolutions) runs at about the same multiply-adds per second, so the estimate holds to a factor
of about 1.5 either way; measure on a Pi before promising a figure.
"""

from __future__ import annotations

import importlib
import math
from pathlib import Path
from typing import Any

#: The published figure the Pi 4 estimate is scaled from: a model, its multiply-adds, its
#: measured time on a Raspberry Pi 4 CPU in ms, and where it was published.
PI4_REFERENCE_MODEL = "MobileNet v1 1.0 224 (int8 TFLite, CPU)"
PI4_REFERENCE_MULTIPLY_ADDS = 569_000_000
PI4_REFERENCE_MS = 87.0
PI4_REFERENCE_SOURCE = ("TildAlice, 'MobileNet vs EfficientNet-Lite: Pi 4 first model', dev.to: "
                        "87 ms per image on a Raspberry Pi 4 CPU")
COUNTED_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


def _interpreter_without_delegates(path: Path) -> Any:
    """The graph as written in the file (a delegate would hide the convolutions it takes)."""
    try:
        lite = importlib.import_module("ai_edge_litert.interpreter")
    except ModuleNotFoundError:
        lite = importlib.import_module("tflite_runtime.interpreter")
    interpreter = lite.Interpreter(
        model_path=str(path),
        experimental_op_resolver_type=lite.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interpreter.allocate_tensors()
    return interpreter


def multiply_adds(path: Path) -> int:
    """Multiply-adds of one invoke of the .tflite file at ``path`` (one photo)."""
    interpreter = _interpreter_without_delegates(path)
    shapes = {t["index"]: [int(v) for v in t["shape"]] for t in interpreter.get_tensor_details()}
    total = 0
    for op in interpreter._get_ops_details():
        name = op["op_name"]
        if name == "DELEGATE":
            raise ValueError(f"{path}: a delegate hides part of the graph; cannot count it")
        if name not in COUNTED_OPS:
            continue
        weights = shapes[int(op["inputs"][1])]
        outputs = math.prod(shapes[int(op["outputs"][0])])
        if name == "CONV_2D":  # weights [out, kh, kw, in]
            total += outputs * weights[1] * weights[2] * weights[3]
        elif name == "DEPTHWISE_CONV_2D":  # weights [1, kh, kw, channels]
            total += outputs * weights[1] * weights[2]
        else:  # FULLY_CONNECTED, weights [out, in]
            total += outputs * weights[1]
    return total


def pi4_latency_ms(macs: int) -> float:
    """Estimated invoke time on a Raspberry Pi 4 CPU, in ms (see the module doc)."""
    return float(macs / (PI4_REFERENCE_MULTIPLY_ADDS / PI4_REFERENCE_MS))


def cost(path: Path) -> dict[str, Any]:
    """File size, multiply-adds per photo and the Pi 4 estimate, with its method, JSON-ready."""
    macs = multiply_adds(path)
    return {
        "size_bytes": path.stat().st_size,
        "multiply_adds": macs,
        "pi4_ms_estimate": round(pi4_latency_ms(macs), 1),
        "pi4_method": "multiply-adds / the int8 throughput of a published Raspberry Pi 4 figure "
        f"({PI4_REFERENCE_MODEL}: {PI4_REFERENCE_MULTIPLY_ADDS / 1e6:.0f} M "
        f"multiply-adds in {PI4_REFERENCE_MS:.0f} ms; {PI4_REFERENCE_SOURCE}); an "
        "estimate, not a measurement",
    }
