"""What the nodes report: ingest from MQTT, parse, write and store readings, detections and events;
rollups, gaps, partitions, retention, and the queries that read it all back."""
