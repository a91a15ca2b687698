"""Model 3's recipe: an ImageNet-pretrained backbone, fine-tuned on lab photos, field photos
and single-leaf crops of the field photos, on two CPU cores.

The backbone (:mod:`models.backbones`, weights from :mod:`models.pretrained`) is cut after block
``freeze_through``. The part before the cut never changes, so it runs once per augmented view
of each training photo, as a float TFLite model (XNNPACK runs it about six times faster than
TensorFlow here), and its features are cached on disk. The blocks after the cut, the head
convolution and a new classifier are then trained on the cached features, epoch after epoch
over the views. Every stage writes its result into the run folder and is skipped when it is
already there, so a stopped run resumes from its pixels, features and last finished epoch.

Augmentation is the composite recipe of 2.0.0 (:func:`models.augment_batch.build_augmenter`): lab
leaves onto generated soil and foliage, perspective, colour, exposure, blur, a small camera
and JPEG; generated non-leaf images with a uniform target (outlier exposure) teach the network
to say "uncertain" on what is no leaf.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agrifleet.models.fleet_photos import count_fleet_photos
from agrifleet.models.leaf_crops import LeafCrop, load_crops, read_boxes
from agrifleet.models.split import Photo, split_hash, write_split
from agrifleet.models.train import _limit, _set_threads, collect, load_pixels

log = logging.getLogger(__name__)


@dataclass
class TransferSettings:
    """Knobs of one fine-tuning run; recorded next to the model."""

    backbone: str = "efficientnet-lite0"
    size: int = 224
    #: Blocks 0..freeze_through keep their ImageNet weights and are cached; the rest train.
    freeze_through: int = 12
    epochs: int = 12
    #: Augmented views cached per training photo; epoch e trains on view e % views.
    views: int = 4
    #: Lab training photos per view (a different sample each view); field photos and leaf
    #: crops are all in every view.
    lab_per_view: int = 4000
    batch: int = 64
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    label_smoothing: float = 0.1
    dropout: float = 0.3
    outliers: int = 400
    composite_share: float = 0.5
    calibration_images: int = 400
    threads: int = 2
    seed: int = 0
    limit_per_class: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Corpus:
    """Every photo of a run, its pixels, class and source, in one order."""

    labels: list[str]
    photos: list[Photo]  #: lab and field photos (what the split hash covers)
    crops: list[LeafCrop]
    pixels: np.ndarray  #: photos, then crops
    y: np.ndarray
    split: np.ndarray
    source: np.ndarray  #: "lab", "field" or "crop"

    def where(self, split: str, *sources: str) -> np.ndarray:
        return np.nonzero((self.split == split) & np.isin(self.source, sources))[0]


def load_corpus(data: Path, field_dir: Path | None, work: Path, s: TransferSettings) -> Corpus:
    """Lab photos, field photos and leaf crops at the input size; pixels cached in ``work``."""
    labels, lab, fld = collect(data, field_dir)
    if s.limit_per_class:
        lab, fld = _limit(lab, s.limit_per_class), _limit(fld, s.limit_per_class)
    photos = lab + fld
    crops = read_boxes(field_dir, fld) if field_dir else []
    cache = work / f"pixels-{s.size}.npz"
    index = {name: i for i, name in enumerate(labels)}
    if cache.is_file():
        saved = np.load(cache)
        pixels, kept = saved["pixels"], set(saved["crops"].tolist())
        crops = [c for i, c in enumerate(crops) if i in kept]
    else:
        started = time.monotonic()
        pixels = load_pixels(photos, s.size, s.threads)
        usable, crop_pixels = load_crops(crops, s.size)
        usable_set = set(usable)
        kept_idx = [i for i, c in enumerate(crops) if c in usable_set]
        crops = usable
        pixels = np.concatenate([pixels, crop_pixels])
        np.savez(cache, pixels=pixels, crops=np.array(kept_idx, np.int64))
        log.info("loaded %d photos and %d leaf crops in %.0f s", len(photos), len(crops),
                 time.monotonic() - started)
    field_set = set(fld)
    source = np.array(["field" if p in field_set else "lab" for p in photos]
                      + ["crop"] * len(crops))
    return Corpus(
        labels=labels, photos=photos, crops=crops, pixels=pixels,
        y=np.array([index[p.label] for p in photos] + [index[c.label] for c in crops], np.int32),
        split=np.array([p.split for p in photos] + [c.split for c in crops]), source=source)


class FrozenPart:
    """The backbone before the cut as a float TFLite model, run on batches of pixels."""

    def __init__(self, frozen: Any, path: Path, threads: int):
        import tensorflow as tf

        if not path.is_file():  # ``frozen`` may be None when the file is there
            converter = tf.lite.TFLiteConverter.from_keras_model(frozen)
            path.write_bytes(converter.convert())
        from agrifleet.inference.runtime import load_interpreter

        self.interpreter = load_interpreter(path, threads)
        self.input = self.interpreter.get_input_details()[0]["index"]
        self.output = self.interpreter.get_output_details()[0]["index"]
        self.batch = 0

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        if len(pixels) != self.batch:
            self.interpreter.resize_tensor_input(self.input, list(pixels.shape))
            self.interpreter.allocate_tensors()
            self.batch = len(pixels)
        self.interpreter.set_tensor(self.input, pixels.astype(np.float32))
        self.interpreter.invoke()
        return np.asarray(self.interpreter.get_tensor(self.output)).astype(np.float16)


def _batches(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def cache_features(corpus: Corpus, frozen: FrozenPart, work: Path, s: TransferSettings) -> None:
    """Write the frozen part's features of every augmented training view and of the
    (unaugmented) validation photos into ``work/features``; existing files are kept."""
    import tensorflow as tf

    from agrifleet.models.augment import BACKGROUNDS, background, leaf_mask
    from agrifleet.models.augment_batch import build_augmenter
    from agrifleet.models.outliers import outlier_bank

    folder = work / "features"
    folder.mkdir(exist_ok=True)
    n = len(corpus.labels)
    val = corpus.where("val", "lab", "field", "crop")
    if not (folder / "val.npz").is_file():
        feats = np.concatenate([frozen(corpus.pixels[val[b]]) for b in _batches(len(val), 32)])
        np.savez(folder / "val.npz", x=feats, idx=val)
    lab_train = corpus.where("train", "lab")
    field_train = corpus.where("train", "field", "crop")
    todo = [v for v in range(s.views) if not (folder / f"view{v}.npz").is_file()]
    if not todo:
        return
    rng = np.random.default_rng(s.seed + 3)
    with ThreadPoolExecutor(max_workers=s.threads) as pool:
        lab_masks = dict(zip(lab_train.tolist(), pool.map(
            lambda i: np.rint(leaf_mask(corpus.pixels[i]) * 255).astype(np.uint8), lab_train),
            strict=True))
    backgrounds = np.stack([background(BACKGROUNDS[i % len(BACKGROUNDS)], rng, s.size)
                            for i in range(600)])
    field_paths = sorted({corpus.photos[i].path for i in field_train
                          if corpus.source[i] == "field"})
    bank = outlier_bank(s.outliers, s.size, s.seed + 1, field_paths) if s.outliers else None
    augment = tf.function(build_augmenter("composite", backgrounds, s.composite_share))
    order = np.random.default_rng(s.seed).permutation(lab_train)
    full = np.full(corpus.pixels.shape[1:3], 255, np.uint8)
    for v in todo:
        started = time.monotonic()
        tf.random.set_seed(s.seed * 100 + v)
        start = (v * s.lab_per_view) % max(1, len(order))
        chosen = np.roll(order, -start)[: s.lab_per_view]
        idx = np.concatenate([chosen, field_train])
        x_parts, t_parts = [], []
        for b in _batches(len(idx), 32):
            members = idx[b]
            masks = np.stack([lab_masks.get(int(i), full) for i in members])
            aug = augment(tf.constant(corpus.pixels[members], tf.float32), tf.constant(masks))
            aug = np.clip(np.rint(aug.numpy()), 0, 255)
            x_parts.append(frozen(aug))
            t_parts.append(np.eye(n, dtype=np.float16)[corpus.y[members]])
        if bank is not None:
            for b in _batches(len(bank), 32):
                aug = augment(tf.constant(bank[b], tf.float32),
                              tf.constant(np.zeros((len(bank[b]), *full.shape), np.uint8)))
                x_parts.append(frozen(np.clip(np.rint(aug.numpy()), 0, 255)))
                t_parts.append(np.full((len(bank[b]), n), 1 / n, np.float16))
        np.savez(folder / f"view{v}.npz", x=np.concatenate(x_parts),
                 t=np.concatenate(t_parts), idx=idx)
        log.info("view %d: %d images in %.0f s", v, len(idx) + (len(bank) if bank is not None
                                                                else 0),
                 time.monotonic() - started)


def train_transfer(data: Path, out: Path, field_dir: Path | None, s: TransferSettings) -> Path:
    """Run (or resume) the whole recipe; ``out`` receives model.tflite, model_float.tflite,
    training.json and the cached stages."""
    _set_threads(s.threads)
    import keras

    from agrifleet.models.backbones import build_backbone, split_at
    from agrifleet.models.pretrained import load_weights
    from agrifleet.models.train import _calibration_sample, export_tflite

    started = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(s.seed)
    corpus = load_corpus(data, field_dir, out, s)
    fleet = count_fleet_photos(field_dir, [p for i, p in enumerate(corpus.photos)
                                           if corpus.source[i] == "field"])
    write_split(corpus.photos, out / "split.tsv")
    (out / "labels.txt").write_text("\n".join(corpus.labels) + "\n", encoding="utf-8")
    n = len(corpus.labels)
    model = build_backbone(s.backbone, s.size, load_weights(s.backbone), classes=n,
                           dropout=s.dropout)
    frozen, top = split_at(model, s.freeze_through)
    cache_features(corpus, FrozenPart(frozen, out / "frozen_float.tflite", s.threads), out, s)
    history = fit_top(model, top, corpus, out, s)
    model.trainable = False
    train_s = time.monotonic() - started
    if not (out / "model.tflite").is_file():
        train_idx = corpus.where("train", "lab", "field", "crop")
        ts = _calibration_settings(s)
        rep = _calibration_sample(train_idx, corpus.y, ts)
        export_tflite(model, out, (corpus.pixels[i] for i in rep))
    meta = {
        "recipe": "transfer",
        "settings": asdict(s),
        "labels": corpus.labels,
        "split_hash": split_hash(corpus.photos),
        "fleet_photos": fleet,
        "leaf_crops": {sp: int(np.sum((corpus.source == "crop") & (corpus.split == sp)))
                       for sp in ("train", "val", "test")},
        "train_seconds": round(train_s),
        "total_seconds": round(time.monotonic() - started),
        "parameters": int(model.count_params()),
        "history": history,
        "tensorflow": __import__("tensorflow").__version__,
    }
    previous = out / "training.json"
    if previous.is_file():  # a resumed run counts the time of every earlier attempt
        before = json.loads(previous.read_text(encoding="utf-8"))
        meta["train_seconds"] = max(meta["train_seconds"], before.get("train_seconds", 0))
    (out / "training.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    log.info("trained in %.0f s; wrote %s", train_s, out)
    return out


def _calibration_settings(s: TransferSettings) -> Any:
    from agrifleet.models.train import TrainSettings

    return TrainSettings(calibration_images=s.calibration_images, seed=s.seed)


def fit_top(model: Any, top: Any, corpus: Corpus, work: Path, s: TransferSettings
            ) -> dict[str, list[float]]:
    """Train the blocks after the cut and the classifier on the cached views; one checkpoint
    per epoch (weights and the best field-validation epoch), so a stopped run resumes."""
    import keras
    import tensorflow as tf

    state_path = work / "fit_state.json"
    state: dict[str, Any] = json.loads(state_path.read_text()) if state_path.is_file() else {
        "epoch": 0, "best": -1.0, "history": {}}
    weights = work / "last.weights.h5"
    best = work / "best.weights.h5"
    if state["epoch"] >= s.epochs:
        model.load_weights(best)
        return dict(state["history"])
    if state["epoch"] and weights.is_file():
        model.load_weights(weights)
        log.info("resuming at epoch %d", state["epoch"] + 1)
    views = [np.load(work / "features" / f"view{v}.npz") for v in range(s.views)]
    val = np.load(work / "features" / "val.npz")
    val_x, val_idx = val["x"], val["idx"]
    val_y = corpus.y[val_idx]
    val_src = corpus.source[val_idx]
    steps = int(np.ceil(len(views[0]["x"]) / s.batch))
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=s.learning_rate / 10, decay_steps=steps * (s.epochs - 1),
        warmup_target=s.learning_rate, warmup_steps=steps, alpha=0.01)
    optimizer = keras.optimizers.AdamW(schedule, weight_decay=s.weight_decay)
    top.compile(optimizer=optimizer,
                loss=keras.losses.CategoricalCrossentropy(label_smoothing=s.label_smoothing),
                metrics=["accuracy"])
    optimizer.iterations.assign(steps * state["epoch"])
    for epoch in range(state["epoch"], s.epochs):
        t0 = time.monotonic()
        view = views[epoch % s.views]
        ds = (tf.data.Dataset.from_tensor_slices((view["x"], view["t"]))
              .shuffle(len(view["x"]), seed=s.seed + epoch)
              .batch(s.batch)
              .map(lambda x, t: (tf.cast(x, tf.float32), tf.cast(t, tf.float32)))
              .prefetch(2))
        fit = top.fit(ds, epochs=1, verbose=0)
        probs = top.predict(val_x.astype(np.float32), batch_size=128, verbose=0)
        right = probs.argmax(1) == val_y
        figures = {
            "loss": float(fit.history["loss"][-1]),
            "accuracy": float(fit.history["accuracy"][-1]),
            "val_lab_accuracy": float(right[val_src == "lab"].mean()),
            "val_field_accuracy": float(right[val_src == "field"].mean()),
            "val_crop_accuracy": float(right[val_src == "crop"].mean())
            if np.any(val_src == "crop") else 0.0,
            "seconds": time.monotonic() - t0,
        }
        for k, v in figures.items():
            state["history"].setdefault(k, []).append(v)
        log.info("epoch %d/%d: %s", epoch + 1, s.epochs,
                 ", ".join(f"{k} {v:.3f}" for k, v in figures.items()))
        # Best by field and lab validation together: the field matters most, the lab must hold.
        score = figures["val_field_accuracy"] + figures["val_crop_accuracy"] \
            + figures["val_lab_accuracy"]
        model.save_weights(weights)
        if score > state["best"]:
            state["best"] = score
            state["best_epoch"] = epoch + 1
            model.save_weights(best)
        state["epoch"] = epoch + 1
        state_path.write_text(json.dumps(state, indent=1))
    model.load_weights(best)
    return dict(state["history"])
