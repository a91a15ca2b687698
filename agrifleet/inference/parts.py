"""Split class labels into a crop and a disease, and add class probabilities up per part.

PlantVillage labels read ``Crop___Disease`` (``Tomato___Late_blight``). A farm needs both parts
separately: "late blight, crop uncertain" is a useful answer when the disease is clear and the
crop is not. The crop's confidence is the sum of the probabilities of that crop's classes; the
disease's is the sum over the classes with that disease name across crops (``healthy`` is the
disease value of the healthy classes).

Disease names are normalised so that the same disease on two crops has one name: underscores
become spaces, trailing ones go (``Common_rust_``), a leading crop name goes
(``Tomato_mosaic_virus`` → "Mosaic virus", ``Apple_scab`` → "Scab"), PlantVillage's two
synonyms in one name are written "A (B)" (:data:`SYNONYMS`), and only the first letter stays
capital. Names equal across crops mean equal names, not always the same pathogen: "Black rot" of
apple and of grape are different fungi; late blight (*Phytophthora infestans*), early blight
(*Alternaria*) and bacterial spot (*Xanthomonas*) of potato, tomato and pepper are the same.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

HEALTHY = "healthy"
SEPARATOR = "___"
PartName = Literal["crop", "disease"]
#: PlantVillage names that hold two names for one disease, and how they read normalised.
SYNONYMS = {
    "cercospora leaf spot gray leaf spot": "Cercospora leaf spot (gray leaf spot)",
    "spider mites two-spotted spider mite": "Spider mites (two-spotted spider mite)",
}


def crop_name(label: str) -> str:
    """The crop of a ``Crop___Disease`` label, readable: ``Pepper,_bell`` → "Pepper, bell"."""
    crop = label.partition(SEPARATOR)[0]
    return _words(crop) or label


def disease_name(label: str) -> str:
    """The normalised disease of a label ("healthy" for healthy classes); see the module doc."""
    crop, sep, disease = label.partition(SEPARATOR)
    if not sep:
        disease, crop = label, ""
    text = _words(disease)
    if text.lower() == HEALTHY:
        return HEALTHY
    first = _words(crop).split(" ")[0].rstrip(",").lower()
    if first and text.lower().startswith(first + " "):
        text = text[len(first) + 1:]
    text = text.lower()
    text = SYNONYMS.get(text, text)
    return text[:1].upper() + text[1:]


def _words(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("_", " ")).strip()


@dataclass(frozen=True)
class Grouping:
    """Which part value (a crop or a disease) each class belongs to."""

    names: list[str]
    #: For each class, the index of its part value in ``names``.
    index: np.ndarray

    def sums(self, probs: np.ndarray) -> np.ndarray:
        """Per part value, the sum of its classes' probabilities: (..., classes) → (..., names)."""
        out = np.zeros((*probs.shape[:-1], len(self.names)), np.float64)
        for c, g in enumerate(self.index):
            out[..., g] += probs[..., c]
        return out


def grouping(labels: Sequence[str], part: PartName) -> Grouping:
    """Group ``labels`` by crop or by disease, in order of first appearance."""
    name_of = crop_name if part == "crop" else disease_name
    names: list[str] = []
    index = []
    for label in labels:
        name = name_of(label)
        if name not in names:
            names.append(name)
        index.append(names.index(name))
    return Grouping(names=names, index=np.array(index, np.int64))


def part_thresholds(
    group: Grouping, labels: Sequence[str], thresholds: Mapping[str, float],
    override: float | None = None,
) -> np.ndarray:
    """Minimum confidence per part value: ``override`` if given, else the lowest threshold of
    its classes.

    With the derived default, a class answered above its own threshold always has its crop and
    its disease answered too (their sums are at least the class's probability).
    """
    if override is not None:
        return np.full(len(group.names), float(override))
    limits = np.full(len(group.names), np.inf)
    for c, label in enumerate(labels):
        g = group.index[c]
        limits[g] = min(limits[g], thresholds.get(label, 0.0))
    return limits
