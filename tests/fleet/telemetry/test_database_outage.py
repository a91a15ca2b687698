"""A database outage specifies: the writer retries, acknowledges nothing until the commit, and
stores everything once the database is back (PostgreSQL, whose connections we can cut)."""

from __future__ import annotations

import secrets

import psycopg
import pytest

from agrifleet.fleet.metrics import Metrics
from agrifleet.fleet.settings import FleetSettings
from tests.fleet.conftest import running_fleet
from tests.fleet.device import batch, reading, wait_until
from tests.services import Broker, Postgres

pytestmark = pytest.mark.postgres


def _admin(postgres: Postgres, sql: str, *params: str) -> None:
    with psycopg.connect(
        f"host=127.0.0.1 port={postgres.port} user=postgres dbname=postgres", autocommit=True
    ) as conn:
        conn.execute(sql, params)


def test_nothing_is_acked_while_the_database_is_away(postgres: Postgres, broker: Broker) -> None:
    url = postgres.create_database()
    name = url.rsplit("/", 1)[1]
    settings = FleetSettings(
        database_url=url, mqtt_url=broker.fleet_url, mqtt_client_id=f"f-{secrets.token_hex(3)}"
    )
    with running_fleet(settings) as fleet:
        fleet.broker = broker
        assert fleet.app.state.ingestor.wait_connected(10)
        device = fleet.device("field-01")
        try:
            assert device.send("boot-1", [reading(0)]).ranges == [(0, 0)]
            _admin(postgres, f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
            _admin(postgres, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = %s", name)  # fmt: skip
            device.publish(batch("field-01", "boot-1", [reading(1), reading(2)]))
            metrics: Metrics = fleet.app.state.metrics

            def retried(m: Metrics = metrics) -> bool:
                return m.write_retries >= 1

            wait_until(retried, what="the writer to retry")
            assert device.acks.empty()  # not stored, so not acknowledged
            _admin(postgres, f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
            assert device.next_ack(timeout=60).ranges == [(1, 2)]
            rows = fleet.get("/api/v1/devices/field-01/readings", order="asc")
            assert [r["seq"] for r in rows] == [0, 1, 2]
        finally:
            _admin(postgres, f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
            device.close()


def test_a_message_the_database_refuses_does_not_stop_the_others(
    postgres: Postgres, broker: Broker
) -> None:
    url = postgres.create_database()
    settings = FleetSettings(
        database_url=url, mqtt_url=broker.fleet_url, mqtt_client_id=f"f-{secrets.token_hex(3)}"
    )
    with running_fleet(settings) as fleet:
        fleet.broker = broker
        assert fleet.app.state.ingestor.wait_connected(10)
        doomed, other = fleet.device("field-01"), fleet.device("field-02")
        assert doomed.send("boot-1", [reading(0)]).ranges == [(0, 0)]  # now known to the writer
        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
            conn.execute("DROP TABLE latestreading")  # every later reading now fails to store
            conn.execute("DELETE FROM deviceboot WHERE device_id = 'field-01'")
            conn.execute("DELETE FROM reading WHERE device_id = 'field-01'")
        doomed.publish(batch("field-01", "boot-1", [reading(1)]))

        def counted(line: str) -> bool:
            return fleet.metric(line) == 1

        # Not an outage: the item is rejected in the ack (the node dead-letters it), not resent
        # forever.
        ack = doomed.next_ack()
        assert ack.ranges == [] and list(ack.rejected) == [1]
        assert ack.rejected[1].startswith("storage_error: UndefinedTable")
        assert counted('agrifleet_items_rejected_total{reason="storage_error"}')
        # The worker is alive: a status (no readings, so no latestreading) is still stored.
        other.status("online", boot_id="boot-9")
        wait_until(lambda: counted('agrifleet_messages_ingested_total{topic="status"}'))
        assert fleet.metric("agrifleet_devices_online") == 1
