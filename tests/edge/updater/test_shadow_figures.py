"""The shadow period's figures: agreement counts only the photos either model answered, so two
"uncertain" answers never pass a new model on the photos the old one could not read."""

from __future__ import annotations

from agrifleet.contract import GateLimits
from agrifleet.edge.updater.shadow import ShadowRun, judge
from agrifleet.inference.classifier import UNCERTAIN, Prediction


def said(label: str, confidence: float = 0.9) -> Prediction:
    uncertain = label == UNCERTAIN
    return Prediction(label=label, confidence=confidence, uncertain=uncertain, top3=[],
                      inference_ms=5.0, best="Tomato___healthy" if uncertain else label)


def test_two_uncertain_answers_are_not_agreement():
    run = ShadowRun(4)
    for _ in range(4):
        run(said(UNCERTAIN, 0.2), said(UNCERTAIN, 0.3))
    figures = run.figures()
    assert figures.images == 4
    assert figures.answered == 0 and figures.agreement == 0.0 and figures.both_answered == 0.0
    assert judge(figures, GateLimits(min_agreement=0.5)) is not None


def test_agreement_is_out_of_the_photos_either_model_answered():
    run = ShadowRun(5)
    run(said("Tomato___Late_blight"), said("Tomato___Late_blight"))  # both, same
    run(said("Tomato___Late_blight"), said("Potato___Late_blight"))  # both, different
    run(said(UNCERTAIN, 0.3), said("Tomato___Early_blight"))  # only the new one answers
    run(said("Tomato___healthy"), said(UNCERTAIN, 0.4))  # only the old one answers
    run(said(UNCERTAIN, 0.3), said(UNCERTAIN, 0.3))  # neither: left out
    figures = run.figures()
    assert figures.images == 5
    assert figures.answered == 4
    assert figures.agreement == 0.25
    assert figures.both_answered == 0.4
    assert figures.uncertain_rate == 0.4


def test_identical_confident_answers_agree_fully():
    run = ShadowRun(3)
    for label in ("Apple___healthy", "Corn_(maize)___Common_rust_", "Grape___Black_rot"):
        run(said(label), said(label))
    figures = run.figures()
    assert figures.agreement == 1.0 and figures.both_answered == 1.0 and figures.answered == 3
