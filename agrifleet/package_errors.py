"""Why a model package is refused: :class:`PackageError` and its one-word reasons.

Shared by the package format (:mod:`agrifleet.package`) and its signatures
(:mod:`agrifleet.signing`), so neither has to import the other for it.
"""

from __future__ import annotations

from typing import Any

REASONS = (
    "unsigned", "bad_signature", "unknown_key", "bad_key", "expired", "tampered",
    "missing_file", "unsafe_archive", "corrupt_archive", "too_large", "wrong_model",
    "downgrade", "same_version", "selftest_failed", "invalid_manifest", "exists",
)


class PackageError(ValueError):
    """A package is refused; ``reason`` says why in one word (see :data:`REASONS`)."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.reason, str(self)))
