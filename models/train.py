"""Train the leaf-disease network on the split data and export float and full-integer int8 TFLite.

Needs the ``train`` extra (TensorFlow). Images go through the device's own
:func:`agrifleet.inference.preprocess.preprocess` once, are kept in memory as uint8, and are
augmented per batch (:mod:`models.augment`). Field photos in the training split are repeated so
that they are a visible share of each epoch.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from agrifleet.inference.preprocess import preprocess
from agrifleet.models.fleet_photos import count_fleet_photos
from agrifleet.models.split import (
    LAB_FRACTIONS,
    Photo,
    split_field,
    split_folder,
    split_hash,
    write_split,
)

log = logging.getLogger(__name__)


@dataclass
class TrainSettings:
    """Knobs of one training run; recorded next to the model."""

    size: int = 128
    width: float = 0.75
    epochs: int = 40
    batch: int = 32
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    label_smoothing: float = 0.05
    field_repeat: int = 5
    calibration_images: int = 400
    threads: int = 2
    seed: int = 0
    limit_per_class: int | None = None
    #: Continue from this Keras model (a previous run's model_float.keras) instead of random.
    init: str | None = None
    #: "field" (backgrounds, free rotation, blur), "mild" for a final polishing phase, or
    #: "composite" (leaves on generated backgrounds and camera effects, models.augment).
    augmentation: Literal["field", "mild", "composite"] = "field"
    #: Train on no field photo at all (they are still split and evaluated): the leave-field-out
    #: model that estimates how a crop never seen in a field fares there.
    exclude_field: bool = False
    #: Mirrored views the exported model averages over (1, 2 or 4; see with_view_averaging).
    views: int = 4
    #: Generated non-leaf images trained with a uniform target (models.outliers), 0 for none.
    outliers: int = 0
    #: Share of lab photos put onto a generated background by the composite augmentation.
    composite_share: float = 0.5
    extra: dict[str, Any] = field(default_factory=dict)


def collect(data: Path, field_dir: Path | None) -> tuple[list[str], list[Photo], list[Photo]]:
    """Labels (sorted lab class folders), lab photos and field photos with their splits."""
    lab = split_folder(data, LAB_FRACTIONS)
    labels = sorted({p.label for p in lab})
    fld = split_field(field_dir) if field_dir else []
    unknown = {p.label for p in fld} - set(labels)
    if unknown:
        raise ValueError(f"field classes not among the lab classes: {sorted(unknown)}")
    return labels, lab, fld


def load_pixels(photos: Sequence[Photo], size: int, threads: int = 2) -> np.ndarray:
    """uint8 (N, size, size, 3): every photo through the device's preprocessing."""
    out = np.empty((len(photos), size, size, 3), np.uint8)

    def one(i: int) -> None:
        out[i] = preprocess(photos[i].path, size)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(one, range(len(photos))))
    return out


def _limit(photos: list[Photo], per_class: int | None) -> list[Photo]:
    if per_class is None:
        return photos
    seen: dict[tuple[str, str], int] = {}
    kept = []
    for p in photos:
        k = (p.label, p.split)
        seen[k] = seen.get(k, 0) + 1
        if seen[k] <= per_class:
            kept.append(p)
    return kept


def training_indices(
    split: np.ndarray, is_field: np.ndarray, settings: TrainSettings
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the photos to train on (field photos repeated ``field_repeat`` times) and to
    validate on; with ``exclude_field`` no field photo is in either."""
    train_idx = np.nonzero(split == "train")[0]
    field_train = np.nonzero((split == "train") & is_field)[0]
    train_idx = np.concatenate([train_idx] + [field_train] * (settings.field_repeat - 1))
    val_idx = np.nonzero(split == "val")[0]
    if settings.exclude_field:  # neither trained on nor used to pick the best epoch
        train_idx = train_idx[~is_field[train_idx]]
        val_idx = val_idx[~is_field[val_idx]]
    return train_idx, val_idx


def _set_threads(threads: int) -> None:
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(threads))
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", str(threads))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def train(data: Path, out: Path, field_dir: Path | None, settings: TrainSettings) -> Path:
    """Run the whole training; return ``out`` holding model.tflite, model_float.tflite and more."""
    _set_threads(settings.threads)
    import keras
    import tensorflow as tf

    from agrifleet.models.augment_batch import build_augmenter
    from agrifleet.models.network import build_model, with_view_averaging

    started = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(settings.seed)
    labels, lab, fld = collect(data, field_dir)
    fld = _limit(fld, settings.limit_per_class)
    fleet = count_fleet_photos(field_dir, fld, not settings.exclude_field)
    photos = _limit(lab, settings.limit_per_class) + fld
    write_split(photos, out / "split.tsv")
    (out / "labels.txt").write_text("\n".join(labels) + "\n", encoding="utf-8")
    index = {name: i for i, name in enumerate(labels)}
    log.info("loading %d photos at %dpx", len(photos), settings.size)
    pixels = load_pixels(photos, settings.size, settings.threads)
    y = np.array([index[p.label] for p in photos], np.int32)
    field_set = set(fld)
    is_field = np.array([p in field_set for p in photos])
    split = np.array([p.split for p in photos])
    log.info("loaded in %.0fs", time.monotonic() - started)

    train_idx, val_idx = training_indices(split, is_field, settings)
    n = len(labels)
    train_x, masks, targets, backgrounds = training_arrays(
        pixels, y, n, train_idx, is_field, photos, settings)
    augment = build_augmenter(settings.augmentation, backgrounds, settings.composite_share)

    def batches(idx: np.ndarray | None, training: bool) -> Any:
        if training:
            ds = tf.data.Dataset.from_tensor_slices((train_x, masks, targets))
            ds = ds.shuffle(len(train_x), seed=settings.seed, reshuffle_each_iteration=True)
        else:
            assert idx is not None
            ds = tf.data.Dataset.from_tensor_slices(
                (pixels[idx], np.zeros((len(idx), 1, 1), np.uint8),
                 np.eye(n, dtype=np.float32)[y[idx]]))
        ds = ds.batch(settings.batch)
        def prep(x: Any, m: Any, t: Any) -> Any:
            x = tf.cast(x, tf.float32)
            return (augment(x, m) if training else x), t
        # Two batches are augmented at once: the composite augmentation costs about as much
        # CPU as the training step, and one call at a time left a core idle.
        return ds.map(prep, num_parallel_calls=2 if training else 1,
                      deterministic=not training).prefetch(2)

    steps = int(np.ceil(len(train_x) / settings.batch))
    warm = 0 if settings.init else steps  # a continued model needs no warm-up
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=settings.learning_rate / 10 if warm else settings.learning_rate,
        decay_steps=max(1, steps * settings.epochs - warm),
        warmup_target=settings.learning_rate if warm else None,
        warmup_steps=warm,
        alpha=0.01,
    )
    if settings.init:
        model = keras.models.load_model(settings.init)
        log.info("continuing from %s", settings.init)
    else:
        model = build_model(n, settings.size, settings.width)
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=settings.weight_decay),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=settings.label_smoothing),
        metrics=["accuracy"],
    )
    log.info("model: %d parameters; %d training images/epoch", model.count_params(), len(train_x))
    field_val = np.nonzero((split == "val") & is_field)[0]

    class FieldAccuracy(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            if len(field_val) and logs is not None:
                p = self.model.predict(pixels[field_val].astype(np.float32), verbose=0)
                logs["val_field_accuracy"] = float(np.mean(p.argmax(1) == y[field_val]))

    keras_path = out / "model_float.keras"
    history = model.fit(
        batches(None, True),
        validation_data=batches(val_idx, False),
        epochs=settings.epochs,
        shuffle=False,  # the dataset shuffles itself
        verbose=2,
        callbacks=[
            FieldAccuracy(),
            keras.callbacks.ModelCheckpoint(keras_path, monitor="val_accuracy",
                                            save_best_only=True),
            keras.callbacks.CSVLogger(str(out / "history.csv")),
        ],
    )
    model = keras.models.load_model(keras_path)
    train_s = time.monotonic() - started
    rep = _calibration_sample(train_idx, y, settings)
    export_tflite(with_view_averaging(model, settings.views), out, (pixels[i] for i in rep))
    meta = {
        "settings": asdict(settings),
        "labels": labels,
        "split_hash": split_hash(photos),
        "fleet_photos": fleet,
        "train_seconds": round(train_s),
        "total_seconds": round(time.monotonic() - started),
        "parameters": int(model.count_params()),
        "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
        "tensorflow": tf.__version__,
    }
    previous = Path(settings.init).with_name("training.json") if settings.init else None
    if previous and previous.is_file():
        before = json.loads(previous.read_text(encoding="utf-8"))
        meta["previous_runs"] = [*before.get("previous_runs", []),
                                 {k: before[k] for k in ("settings", "train_seconds")}]
        meta["train_seconds_total"] = meta["train_seconds"] + before.get(
            "train_seconds_total", before["train_seconds"])
    (out / "training.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    log.info("trained in %.0f s; wrote %s", train_s, out)
    return out


def training_arrays(
    pixels: np.ndarray, y: np.ndarray, n: int, train_idx: np.ndarray, is_field: np.ndarray,
    photos: Sequence[Photo], settings: TrainSettings,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """What one epoch trains on: images, leaf masks (uint8, 255 = leaf), soft targets, and the
    background bank of the composite augmentation.

    Outliers (:mod:`models.outliers`) are appended with the uniform target 1/n and an empty
    mask; with field photos in training, a quarter of them are background corners of those.
    Masks are made once here (about 20 ms a photo), only for the composite augmentation; field
    photos get a full mask, which tells the augmentation to leave their background alone.
    """
    from agrifleet.models.augment import BACKGROUNDS, background, leaf_mask
    from agrifleet.models.outliers import outlier_bank

    x = pixels[train_idx]
    targets = np.eye(n, dtype=np.float32)[y[train_idx]]
    composite = settings.augmentation == "composite"
    if composite:
        with ThreadPoolExecutor(max_workers=settings.threads) as pool:
            masks = np.stack(list(pool.map(
                lambda i: np.full(pixels.shape[1:3], 255, np.uint8) if is_field[i]
                else np.rint(leaf_mask(pixels[i]) * 255).astype(np.uint8), train_idx)))
        rng = np.random.default_rng(settings.seed + 7)
        backgrounds = np.stack([background(BACKGROUNDS[i % len(BACKGROUNDS)], rng, settings.size)
                                for i in range(600)])
    else:
        masks = np.zeros((len(x), 1, 1), np.uint8)
        backgrounds = None
    if settings.outliers:
        field_train = [] if settings.exclude_field else sorted(
            {photos[i].path for i in train_idx if is_field[i]})
        bank = outlier_bank(settings.outliers, settings.size, settings.seed + 1, field_train)
        x = np.concatenate([x, bank])
        targets = np.concatenate([targets, np.full((len(bank), n), 1 / n, np.float32)])
        masks = np.concatenate([masks, np.zeros((len(bank), *masks.shape[1:]), np.uint8)])
        log.info("outlier exposure: %d generated images", len(bank))
    return x, masks, targets, backgrounds


def _calibration_sample(train_idx: np.ndarray, y: np.ndarray, s: TrainSettings) -> list[int]:
    """A class-balanced, seeded sample of unique training images for int8 calibration."""
    rng = np.random.default_rng(s.seed)
    unique = np.unique(train_idx)
    per_class = max(1, s.calibration_images // max(1, len(np.unique(y))))
    chosen: list[int] = []
    for c in np.unique(y[unique]):
        members = unique[y[unique] == c]
        chosen.extend(rng.choice(members, min(per_class, len(members)), replace=False).tolist())
    return chosen


def export_tflite(model: Any, out: Path, calibration: Iterator[np.ndarray]) -> None:
    """Write model_float.tflite and the full-integer int8 model.tflite (int8 in and out)."""
    import tensorflow as tf

    saved = out / "saved_model"
    model.export(str(saved), verbose=False)
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
    (out / "model_float.tflite").write_bytes(converter.convert())

    samples = [img[None].astype(np.float32) for img in calibration]

    def representative() -> Iterator[list[np.ndarray]]:
        for s in samples:
            yield [s]

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    (out / "model.tflite").write_bytes(converter.convert())
    log.info("exported int8 (%d bytes) and float (%d bytes) TFLite",
             (out / "model.tflite").stat().st_size, (out / "model_float.tflite").stat().st_size)
