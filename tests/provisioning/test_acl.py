"""A device may touch only its own topics; the fleet the whole prefix."""

from __future__ import annotations

import pytest

from agrifleet.provisioning.acl import allowed, topic_matches


@pytest.mark.parametrize(
    ("topic", "pattern", "expected"),
    [
        ("agrifleet/a/ack", "agrifleet/+/ack", True),
        ("agrifleet/a/model/offer", "agrifleet/a/model/#", True),
        ("agrifleet/a/model", "agrifleet/a/model/#", True),
        ("agrifleet/a/ack/x", "agrifleet/+/ack", False),
        ("agrifleet/b/ack", "agrifleet/a/ack", False),
        ("other/a/ack", "agrifleet/#", False),
    ],
)
def test_topic_matching(topic: str, pattern: str, expected: bool) -> None:
    assert topic_matches(topic, pattern) is expected


def test_device_writes_only_its_own_messages() -> None:
    assert allowed("field-01", "agrifleet", "write", "agrifleet/field-01/messages")
    assert not allowed("field-01", "agrifleet", "write", "agrifleet/field-02/messages")
    assert not allowed("field-01", "agrifleet", "write", "agrifleet/field-01/ack")


def test_device_cannot_subscribe_with_wildcards_beyond_its_own() -> None:
    assert allowed("field-01", "agrifleet", "read", "agrifleet/field-01/ack")
    assert not allowed("field-01", "agrifleet", "read", "agrifleet/+/ack")
    assert not allowed("field-01", "agrifleet", "read", "agrifleet/#")


def test_fleet_reads_and_writes_the_prefix_only() -> None:
    assert allowed("fleet", "agrifleet", "read", "agrifleet/+/messages")
    assert allowed("fleet", "agrifleet", "write", "agrifleet/x/ack")
    assert not allowed("fleet", "agrifleet", "read", "$SYS/#")


def test_every_device_reads_the_fleet_status_and_cannot_write_it() -> None:
    for device in ("field-01", "field-02"):
        assert allowed(device, "agrifleet", "read", "agrifleet/_fleet/status")
        assert not allowed(device, "agrifleet", "write", "agrifleet/_fleet/status")
    assert not allowed("field-01", "agrifleet", "read", "agrifleet/_fleet/#")
    assert not allowed("field-01", "agrifleet", "read", "other/_fleet/status")
    assert allowed("fleet", "agrifleet", "write", "agrifleet/_fleet/status")


def test_mosquitto_acl_is_the_contracts_device_topics() -> None:
    from agrifleet.provisioning.mosquitto import acl_text

    text = acl_text("agrifleet")
    assert "pattern read agrifleet/_fleet/status" in text
    assert "pattern write agrifleet/%u/messages" in text
    assert "topic readwrite agrifleet/#" in text
