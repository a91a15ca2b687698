"""Every MQTT topic and filter comes from the contract, and a device's rights are its own topics
plus the fleet's status."""

from __future__ import annotations

import pytest

from agrifleet.contract import (
    ack_topic,
    device_from_topic,
    device_topics,
    fleet_status_topic,
    fleet_subscriptions,
    messages_topic,
    offer_topic,
    status_topic,
)
from agrifleet.provisioning.acl import topic_matches


def test_device_topics_are_its_own_and_the_fleet_status() -> None:
    assert device_topics("agrifleet", "field-01") == [
        ("write", "agrifleet/field-01/status"),
        ("write", "agrifleet/field-01/messages"),
        ("read", "agrifleet/field-01/ack"),
        ("read", "agrifleet/field-01/model/#"),
        ("read", "agrifleet/_fleet/status"),
    ]


def test_what_a_device_reads_covers_what_the_fleet_sends_it() -> None:
    reads = [t for access, t in device_topics("p", "d") if access == "read"]
    for topic in (ack_topic("p", "d"), offer_topic("p", "d"), fleet_status_topic("p")):
        assert any(topic_matches(topic, f) for f in reads), topic
    assert not any(topic_matches(ack_topic("p", "e"), f) for f in reads)


def test_the_fleet_subscribes_to_every_device_status_and_messages() -> None:
    filters = fleet_subscriptions("p")
    for topic in (status_topic("p", "d"), messages_topic("p", "d")):
        assert any(topic_matches(topic, f) for f in filters)
    assert not any(topic_matches(ack_topic("p", "d"), f) for f in filters)


def test_the_fleet_status_topic_names_no_device() -> None:
    assert fleet_status_topic("p") == "p/_fleet/status"
    assert device_from_topic("p", fleet_status_topic("p")) == ("_fleet", "status")


def test_no_device_may_be_named_like_the_fleets_broker_user() -> None:
    """A device called "fleet" would log in to the broker with the fleet's rights."""
    from pydantic import TypeAdapter, ValidationError

    from agrifleet.contract import FLEET_USER, DeviceId

    ids = TypeAdapter(DeviceId)
    assert ids.validate_python("field-07") == "field-07"
    with pytest.raises(ValidationError, match="kept for the fleet"):
        ids.validate_python("fleet-07")
    with pytest.raises(ValidationError, match="the fleet's own broker user"):
        ids.validate_python(FLEET_USER)
