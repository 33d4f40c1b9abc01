"""Settings for a private stack on free ports in its own home: the integration fixture,
the fault suite and the benchmark run beside a dev stack without touching it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from switchyard.core.settings import load
from switchyard.settings import Settings, settings_class
from switchyard.stack.ports import free_ports as free_ports


def ephemeral_settings(home: Path, read_env_file: bool = True, cls: type[Settings] | None = None,
                       **sections: dict[str, Any]) -> Settings:
    """Every port free, every path under ``home``; ``sections`` override or extend. The
    environment's SWITCHYARD_* variables apply, and a `.env` file unless ``read_env_file``
    is false (the tests: a developer's `.env` must not change them). ``cls``: the settings
    class (default: joined with the app this process works on, ``settings_class``)."""
    kafka, controller, admin, ingress, node, service, smtp, provider, streams = free_ports(9)
    base: dict[str, dict[str, Any]] = {
        "kafka": {"bootstrap_servers": f"127.0.0.1:{kafka}"},
        "restate": {
            "admin_url": f"http://127.0.0.1:{admin}",
            "ingress_url": f"http://127.0.0.1:{ingress}",
            "deployment_url": f"http://127.0.0.1:{service}",
        },
        "service": {"bind": f"127.0.0.1:{service}"},
        "stack": {"home": home, "kafka_controller_port": controller, "restate_node_port": node},
        "email": {"smtp_port": smtp},
        "provider": {
            "api_base": f"http://127.0.0.1:{provider}",
            "webhook_url": f"http://127.0.0.1:{ingress}/PaymentService/processWebhook",
        },
        "streams": {"web_bind": f"127.0.0.1:{streams}"},
    }
    for name, values in sections.items():
        base[name] = {**base.get(name, {}), **values}
    cls = cls or settings_class()
    return load(cls, **base) if read_env_file else load(cls, _env_file=None, **base)


def ephemeral_cluster_settings(home: Path, read_env_file: bool = True, **sections: dict[str, Any]) -> Settings:
    """A private local cluster (switchyard/stack/cluster.py) on free ports under ``home``:
    three brokers, three Restate nodes, two service replicas behind HAProxy."""
    from switchyard.stack.cluster import BROKERS, NODES, REPLICAS, cluster_sections

    ports = iter(free_ports(2 * BROKERS + 3 * NODES + REPLICAS))
    kafka = [(next(ports), next(ports)) for _ in range(BROKERS)]
    restate = [(next(ports), next(ports), next(ports)) for _ in range(NODES)]
    replicas = [next(ports) for _ in range(REPLICAS)]
    cluster = cluster_sections(kafka, restate, replicas)
    for name, values in sections.items():
        cluster[name] = {**cluster.get(name, {}), **values}
    return ephemeral_settings(home, read_env_file, None, **cluster)
