"""The fleet service: MQTT ingestion, storage (SQLite/PostgreSQL), REST API and metrics."""
