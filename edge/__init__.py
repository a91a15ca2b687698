"""The field agent: reads sensors and cameras, keeps every item in a durable outbox, reports over MQTT."""
