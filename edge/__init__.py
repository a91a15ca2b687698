"""The field agent: reads sensors and cameras, keeps items in a durable outbox, sends over MQTT."""
