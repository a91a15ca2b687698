"""The fleet's connections to the MQTT broker, made in one place.

Every client of the fleet (ingestion, an ingest worker, the API's publisher, retiring a worker,
the broker-account control) speaks MQTT 3.1.1 with paho's second callback API, to the broker of
``AGRIFLEET_MQTT_URL``, with its user, password and TLS (``AGRIFLEET_MQTT_CA_FILE``) and the same
reconnect back-off; they differ only in their client id and session.
"""

from __future__ import annotations

import paho.mqtt.client as mqtt

from agrifleet.fleet.settings import FleetSettings
from agrifleet.mqtt import BrokerAddress, configure_client, parse_mqtt_url


def broker_address(settings: FleetSettings, needed_for: str) -> BrokerAddress:
    """The broker of the settings; a clear error when the fleet has none."""
    if settings.mqtt_url is None:
        raise ValueError(f"{needed_for} needs AGRIFLEET_MQTT_URL")
    return parse_mqtt_url(settings.mqtt_url, ca_file=settings.mqtt_ca_file)


def fleet_client(settings: FleetSettings, address: BrokerAddress, client_id: str, *,
                 clean_session: bool, manual_ack: bool = False) -> mqtt.Client:
    """A paho client for the fleet, configured but not connected.

    ``clean_session=False`` keeps the session (and the QoS 1 messages queued for it) while the
    client is away; ``manual_ack`` leaves each PUBACK to the caller (after its commit)."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                         clean_session=clean_session, protocol=mqtt.MQTTv311,
                         manual_ack=manual_ack)  # fmt: skip
    configure_client(client, address, settings.mqtt_ca_file)
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    return client
