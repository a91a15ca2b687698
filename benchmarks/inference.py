"""Benchmark on-device inference: per-image latency and resident memory, int8 against float.

Per image (JPEG bytes already in memory): decode + preprocess (Pillow), quantise, invoke;
p50/p99 over the photos at 1 and 2 interpreter threads, for the shipped int8 model and the float
model it came from, in the same run. Resident memory is measured in a fresh process, before
and after loading the model.

    python benchmarks/inference.py [--images DIR] [--count 200] [--record]

``--record`` writes benchmark.json into the model folder and re-renders its MODEL_CARD.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agrifleet.inference.preprocess import preprocess, to_input  # noqa: E402
from agrifleet.inference.runtime import interpreter_class, load_interpreter  # noqa: E402
from agrifleet.manifest import read_manifest  # noqa: E402
from agrifleet.models.shipped import default_model_dir  # noqa: E402
from benchmarks.record import commit, machine  # noqa: E402

RSS_PROBE = """
import sys
from pathlib import Path
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
import numpy, PIL.Image
from agrifleet.inference.classifier import Classifier
import agrifleet.inference.runtime as r
r.interpreter_class(None)
base = rss()
c = Classifier.load(Path(sys.argv[1]), threads=2)
c.classify(Path(sys.argv[2]))
print(base, rss())
"""


def pick_images(images: Path | None, model_dir: Path, count: int) -> list[Path]:
    """Photos to time: the model's fixed test sample if the data is there, else any JPEGs."""
    shared = ROOT.parent / "shared" / "data" / "plantvillage"
    sample = model_dir / "test_sample.txt"
    if images is None and sample.is_file() and shared.is_dir():
        rows = [line.split("\t") for line in sample.read_text().splitlines()]
        paths = [shared / key for src, key in rows if src == "lab"]
    else:
        folder = images or shared
        paths = sorted(folder.rglob("*.jpg"))
    paths = [p for p in paths if p.is_file()]
    if not paths:
        raise SystemExit(f"no images found (give --images DIR); looked in {images or shared}")
    return (paths * (count // len(paths) + 1))[:count]


def time_model(model: Path, threads: int, images: list[Path], size: int) -> dict[str, float]:
    """Latency figures (ms) for one model file at one thread count."""
    interpreter = load_interpreter(model, threads)
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    scale, zero = inp.get("quantization", (0.0, 0))

    data = {p: p.read_bytes() for p in images}  # time decoding, not the disk

    def run(path: Path) -> tuple[float, float]:
        t0 = time.perf_counter()
        pixels = preprocess(data[path], size)
        interpreter.set_tensor(inp["index"], to_input(pixels[None], inp["dtype"], scale, zero))
        t1 = time.perf_counter()
        interpreter.invoke()
        interpreter.get_tensor(out["index"])
        t2 = time.perf_counter()
        return (t2 - t0) * 1000, (t2 - t1) * 1000

    for path in images[:10]:
        run(path)
    totals, invokes = zip(*(run(p) for p in images), strict=True)
    return {
        "p50_ms": float(np.percentile(totals, 50)),
        "p99_ms": float(np.percentile(totals, 99)),
        "invoke_p50_ms": float(np.percentile(invokes, 50)),
        "invoke_p99_ms": float(np.percentile(invokes, 99)),
    }


def resident_memory(model_dir: Path, image: Path) -> tuple[float, float]:
    """(MB before loading the model, MB with it loaded and used once) in a fresh process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", RSS_PROBE, str(model_dir), str(image)],
                          capture_output=True, text=True, check=True, env=env)
    base, loaded = (float(v) for v in done.stdout.split())
    return base, loaded


AGENT_CONFIG = """\
device_id = "bench-01"
data_dir = "{home}"
[clock]
synced = "always"
[mqtt]
url = "mqtt://127.0.0.1:{port}"
password = "unused"
[[cameras]]
type = "folder"
name = "leafcam"
path = "{home}/camera"
after = "delete"
model = "{model}"
threads = 2
"""


def agent_memory(model_dir: Path, image: Path, timeout_s: float = 120.0) -> dict[str, float]:
    """The whole field agent (``agrifleet edge run``) with the model loaded and one photo
    classified: its resident memory now and at its peak, in MB. The broker address is a closed
    port: the agent keeps its outbox and retries, as it would offline."""
    import socket
    import tempfile

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="agrifleet-bench-") as tmp:
        home = Path(tmp)
        (home / "camera").mkdir()
        config = home / "agent.toml"
        config.write_text(AGENT_CONFIG.format(home=home, port=port, model=model_dir))
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        agent = subprocess.Popen([sys.executable, "-m", "agrifleet", "edge", "run", "--config",
                                  str(config)], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, env=env)
        try:
            time.sleep(3)
            photo = home / "camera" / image.name
            photo.write_bytes(image.read_bytes())
            deadline = time.monotonic() + timeout_s
            while photo.exists() and time.monotonic() < deadline:
                time.sleep(0.2)
            if photo.exists():
                raise SystemExit("the agent did not classify the photo in time")
            time.sleep(2)
            status = Path(f"/proc/{agent.pid}/status").read_text().splitlines()
            kb = {line.split(":")[0]: int(line.split()[1]) for line in status
                  if line.startswith(("VmRSS", "VmHWM"))}
        finally:
            agent.terminate()
            agent.wait(30)
    return {"agent_rss_mb": kb["VmRSS"] / 1024, "agent_peak_rss_mb": kb["VmHWM"] / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="model folder (default: shipped)")
    parser.add_argument("--images", type=Path, default=None)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--record", action="store_true",
                        help="write benchmark.json and re-render the model card")
    args = parser.parse_args()
    model_dir = args.model or default_model_dir()
    manifest = read_manifest(model_dir)
    images = pick_images(args.images, model_dir, args.count)
    runtime, _ = interpreter_class()
    files = {"int8": model_dir / manifest.file}
    if manifest.float_reference and (model_dir / manifest.float_reference).is_file():
        files["float32"] = model_dir / manifest.float_reference
    rows = []
    for threads in args.threads:
        for kind, path in files.items():
            figures = time_model(path, threads, images, manifest.size)
            rows.append({"model": kind, "threads": threads, **figures})
            print(f"{kind:7} threads={threads}: p50 {figures['p50_ms']:.1f} ms  "
                  f"p99 {figures['p99_ms']:.1f} ms  (invoke p50 {figures['invoke_p50_ms']:.1f} ms)")
    base, loaded = resident_memory(model_dir, images[0])
    print(f"resident memory: {base:.0f} MB before loading, {loaded:.0f} MB with the model loaded")
    agent = agent_memory(model_dir, images[0])
    print(f"field agent with the model loaded: {agent['agent_rss_mb']:.0f} MB resident "
          f"(peak {agent['agent_peak_rss_mb']:.0f} MB)")
    result = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit(),
        "machine": machine(),
        "runtime": runtime,
        "images": len(images),
        "latency": rows,
        "rss_base_mb": base,
        "rss_loaded_mb": loaded,
        **agent,
    }
    print(json.dumps(result, indent=1))
    if args.record:
        from agrifleet.models.card import BENCHMARK_NAME, write_card

        (model_dir / BENCHMARK_NAME).write_text(json.dumps(result, indent=1) + "\n")
        print(f"recorded in {write_card(model_dir)}")


if __name__ == "__main__":
    main()
