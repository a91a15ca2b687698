"""Sending a webhook: the fleet POSTs only to public addresses unless the operator allows local
ones (a farm's technician types the URL, so it must not reach the fleet's own machine or
network), connects to the address it checked, and does not follow redirects."""

from __future__ import annotations

import pytest

from agrifleet.fleet.alerts.delivery.send import (
    SIGNATURE_HEADER,
    DeliveryError,
    _checked_addresses,
    local_address,
    post_webhook,
    signature,
)
from agrifleet.fleet.devices.tables import DEFAULT_FARM_ID
from agrifleet.fleet.settings import FleetSettings
from tests.fleet.alerts.delivery.receivers import webhook_receiver
from tests.fleet.conftest import FleetUnderTest, running_fleet

BODY = b'{"state":"active"}'


@pytest.mark.parametrize("host", [
    "127.0.0.1", "127.8.9.10", "localhost", "LOCALHOST.", "fleet.localhost", "10.1.2.3",
    "172.16.0.1", "192.168.1.20", "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1",
    "::1", "[::1]", "fe80::1", "fd00::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::",
])
def test_loopback_private_link_local_and_unspecified_hosts_are_local(host: str) -> None:
    assert local_address(host) is not None


@pytest.mark.parametrize("host", ["93.184.216.34", "1.1.1.1", "2606:4700::1111",
                                  "hooks.example.org", "example.com"])
def test_public_addresses_and_names_pass_the_first_check(host: str) -> None:
    assert local_address(host) is None


def test_a_local_receiver_gets_nothing_unless_the_operator_allows_it() -> None:
    with webhook_receiver() as receiver:
        with pytest.raises(DeliveryError, match=r"refused: 127\.0\.0\.1 is not a public address"):
            post_webhook(receiver.url, "s" * 32, BODY, 7, timeout_s=5)
        assert receiver.received == []
        assert post_webhook(receiver.url, "s" * 32, BODY, 7, timeout_s=5,
                            allow_local=True) == "HTTP 200"
        [got] = receiver.received
        assert got.body == BODY and got.headers[SIGNATURE_HEADER] == signature("s" * 32, BODY)
        assert got.headers["Host"] == receiver.url.split("/")[2]  # the URL's host, not the IP


def test_a_name_that_resolves_to_a_local_address_is_refused() -> None:
    with pytest.raises(DeliveryError, match="refused: localhost resolves to"):
        _checked_addresses("localhost", 80, allow_local=False)
    assert _checked_addresses("localhost", 80, allow_local=True)


def test_a_redirect_is_a_failed_attempt_and_is_not_followed() -> None:
    with webhook_receiver() as inside, webhook_receiver() as outside:
        outside.statuses, outside.location = [302], inside.url
        with pytest.raises(DeliveryError, match="HTTP 302"):
            post_webhook(outside.url, "s" * 32, BODY, 8, timeout_s=5, allow_local=True)
        assert len(outside.received) == 1 and inside.received == []


@pytest.mark.parametrize("url", ["ftp://example.org/x", "http:///x", "http://a:port/x",
                                 "http://[::1/x", "mailto:a@b"])
def test_what_is_not_an_http_url_with_a_host_is_refused_before_any_connection(url: str) -> None:
    with pytest.raises(DeliveryError, match="not an http"):
        post_webhook(url, "s" * 32, BODY, 9, timeout_s=5, allow_local=True)


@pytest.mark.parametrize(("url", "reason"), [
    ("http://127.0.0.1:8000/hook", "local_address"),
    ("http://localhost/hook", "local_address"),
    ("https://169.254.169.254/latest/meta-data", "local_address"),
    ("http://[::1]:9/x", "local_address"),
    ("http://[::1/x", "bad_url"),
    ("http://x:port/hook", "bad_url"),
])
def test_the_api_refuses_a_local_or_broken_url_when_the_hook_is_added(
        api: FleetUnderTest, url: str, reason: str) -> None:
    response = api.client.post("/api/v1/webhooks", headers=api.admin,
                               json={"farm_id": DEFAULT_FARM_ID, "url": url})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["type"] == reason
    assert api.get("/api/v1/webhooks") == []


def test_an_operator_may_allow_hooks_to_the_farm_s_own_network(
        migrated_database_url: str) -> None:
    settings = FleetSettings(database_url=migrated_database_url, webhook_allow_local=True)
    with running_fleet(settings) as fleet:
        response = fleet.client.post("/api/v1/webhooks", headers=fleet.admin, json={
            "farm_id": DEFAULT_FARM_ID, "url": "http://192.168.1.20:8080/agrifleet"})
        assert response.status_code == 201, response.text
