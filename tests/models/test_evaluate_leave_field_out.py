"""``model train --exclude-field`` trains and validates on no field photo, for the leave-field-out
figure; by default field training photos are repeated."""

from __future__ import annotations

import numpy as np

from agrifleet.cli import build_parser
from agrifleet.models.train import TrainSettings, training_indices

SPLIT = np.array(["train", "train", "val", "test", "train", "val", "test"])
IS_FIELD = np.array([False, False, False, False, True, True, True])


def test_by_default_field_photos_are_trained_on_repeatedly() -> None:
    train, val = training_indices(SPLIT, IS_FIELD, TrainSettings(field_repeat=3))
    assert sorted(train.tolist()) == [0, 1, 4, 4, 4]
    assert val.tolist() == [2, 5]


def test_exclude_field_keeps_every_field_photo_out() -> None:
    train, val = training_indices(SPLIT, IS_FIELD, TrainSettings(exclude_field=True))
    assert sorted(train.tolist()) == [0, 1] and val.tolist() == [2]


def test_the_train_command_takes_exclude_field() -> None:
    args = build_parser().parse_args(["model", "train", "--data", "d", "--out", "o",
                                      "--field", "f", "--exclude-field",
                                      "--augmentation", "composite"])
    assert args.exclude_field is True and args.augmentation == "composite"
    default = build_parser().parse_args(["model", "train", "--data", "d", "--out", "o"])
    assert default.exclude_field is None  # unset: TrainSettings' default (False)
