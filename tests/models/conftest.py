"""Fixtures for the model tests: the TFLite runtimes, shared with the on-device inference tests."""

from tests.agrifleet.inference.conftest import runtime

__all__ = ["runtime"]
