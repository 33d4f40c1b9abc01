"""The native stack: Kafka broker, restate-server, the service (and stream workers)."""
