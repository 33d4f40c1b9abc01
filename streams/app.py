"""The one Faust app: traffic and outcome views, the deposit velocity monitor, and the
web server that serves their JSON and the pipeline page.

Its consumer group is ``settings.streams.app_id`` (Restate's subscription groups are
named ``sub_...``), so the stream workers read every topic without taking records
from Restate. Tables keep their state in memory and in changelog topics named after
the app id; a restarted worker rebuilds them from the changelogs.

The worker runs as one process (the stack's ``streams`` component): the views add up
records from every partition of every topic under one key per topic, which one worker
holding all partitions does without repartitioning.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import faust

from streams import commit_runs, velocity, views, web
from streams.settings import StreamsSettings
from switchyard.core.settings import METADATA_REFRESH_MS, KafkaSettings, split_host_port


def create_app(settings: StreamsSettings, datadir: Path) -> Any:
    commit_runs.install()  # Faust's commits otherwise stall after a rebalance (streams/commit_runs.py)
    s = settings.streams
    host, port = split_host_port(s.web_bind)
    windows = views.window_sizes(settings)
    app = faust.App(
        s.app_id,
        broker=[f"kafka://{server.strip()}" for server in settings.kafka.bootstrap_servers.split(",")],
        broker_credentials=credentials(settings.kafka),
        store="memory://",
        datadir=str(datadir),
        topic_partitions=settings.kafka.topic_partitions,
        topic_replication_factor=settings.kafka.replication_factor,
        consumer_auto_offset_reset="earliest",
        # A grown topic's new partitions are read within the refresh, as by every other client.
        consumer_metadata_max_age_ms=METADATA_REFRESH_MS,
        # Expired windows are dropped this often (the shortest window, at least 1 s).
        table_cleanup_interval=float(min(windows)),
        web_enabled=True,
        web_bind=host,
        web_host=host,
        web_port=port,
        autodiscover=False,
    )
    traffic = views.register(app, settings)
    alerts = velocity.register(app, settings)
    web.register(app, settings, traffic, alerts)
    return app


def credentials(kafka: KafkaSettings) -> Any:
    """The SASL/SSL part of the Kafka settings, as Faust (aiokafka) takes it."""
    protocol = kafka.properties.get("security.protocol", "PLAINTEXT").upper()
    context = None
    if protocol.endswith("SSL"):
        context = ssl.create_default_context(cafile=kafka.properties.get("ssl.ca.location"))
    if protocol.startswith("SASL"):
        password = kafka.sasl_password.get_secret_value() if kafka.sasl_password else ""
        return faust.SASLCredentials(
            username=kafka.sasl_username or "", password=password, ssl_context=context,
            mechanism=kafka.properties.get("sasl.mechanism", "PLAIN"),
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None
