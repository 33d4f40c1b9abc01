"""Any ``switchyard.App`` served: the examples' (handlers/app.py) and yours alike.

``create_app`` is the ASGI factory granian runs (``switchyard run`` starts it): it reads
the app's import string from ``SWITCHYARD_APP`` (``pkg.module:app``) and serves the app's
Restate services over HTTP/2 with the key gate beside them (its consumer group and
transactional id default from the app's name), results and dead letters through one
producer, request identity and the exposure check, ``GET /metrics``, the ASGI lifespan
(the gate stops and results are flushed on shutdown), and versioned paths (a digest of the
app's package and the framework: switchyard/core/versions.py).

Settings come from ``SWITCHYARD_*`` variables, as everywhere; ``app_settings`` fills in
what follows from the app where no variable says otherwise.

Import rule: ``switchyard.app`` and the core (docs/architecture.md).
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import importlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from switchyard.core.errors import UsageProblem
from switchyard.core.settings import CoreSettings, exit_with_error, load
from switchyard.core.versions import code_version

if TYPE_CHECKING:
    from switchyard.app import App

# Light at import: the stack's launcher takes granian_command from here; what serving an
# app needs (restate, the gate, Kafka) is imported by the functions that serve it.

APP_ENV = "SWITCHYARD_APP"  # the app a process serves or a command works on: "pkg.module:app"
# Unless SWITCHYARD_APP (or the CLI's --app) names another: the examples, reached only
# through this import string (the framework imports none of their packages).
DEFAULT_APP = "handlers.app:app"
FACTORY = "switchyard.serving:create_app"


class AppNotFound(UsageProblem):
    """An import string that names no App."""


def load_app(spec: str) -> App:
    """The App that ``spec`` (``pkg.module:attr``; ``:app`` when left out) names, imported
    with the working directory on the import path (so ``flows.greeter:app`` resolves
    where ``flows/`` is)."""
    from switchyard.app import App

    module_name, _, attr = spec.partition(":")
    attr = attr or "app"
    if not module_name:
        raise AppNotFound(f"{spec!r}: name the app as pkg.module:app")
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise AppNotFound(f"{spec}: no module {exc.name!r} from {cwd}") from None
        raise
    except (TypeError, ValueError):  # a relative (".flows") or malformed ("a..b") name
        raise AppNotFound(f"{spec!r}: {module_name!r} is not an absolute module name; name the app as "
                          "pkg.module:app") from None
    found = getattr(module, attr, None)
    if not isinstance(found, App):
        raise AppNotFound(f"{spec}: {module_name}.{attr} is {type(found).__name__ if found is not None else 'missing'},"
                          f" not a switchyard.App")
    found.module = module_name
    return found


def app_spec() -> str:
    """The import string of the app this process works on: ``SWITCHYARD_APP``, or the examples."""
    return os.environ.get(APP_ENV) or DEFAULT_APP


def current_app() -> App:
    """The app ``app_spec`` names, imported once per spec."""
    return _loaded(app_spec())


@functools.cache
def _loaded(spec: str) -> App:
    return load_app(spec)


def app_settings(app: App, **overrides: Any) -> CoreSettings:
    """``CoreSettings`` from the environment, with what follows from ``app`` where no
    variable (nor ``overrides``) set it: the key gate's consumer group (``<name>-gate``)
    and transactional id (``<name>-gate-<host>-<port>``), and the deployment URL Restate
    reaches the service at (``http://<service.bind>``, loopback for a wildcard host)."""
    settings = load(app.settings, **overrides)
    host, port = settings.service.address
    if "group_id" not in settings.gate.model_fields_set:
        settings.gate.group_id = app.gate_group
    if "transactional_id" not in settings.gate.model_fields_set:
        import socket

        settings.gate.transactional_id = app.gate_transactional_id(socket.gethostname(), port)
    if "deployment_url" not in settings.restate.model_fields_set:
        reach = "127.0.0.1" if host in ("", "0.0.0.0", "::") else f"[{host}]" if ":" in host else host
        settings.restate.deployment_url = f"http://{reach}:{port}"
    return settings


def app_version(app: App, settings: CoreSettings) -> str:
    """The configured version, or a digest of the app's code (its top-level package, or
    its module when it is in none) and the framework's."""
    import switchyard

    roots = [Path(switchyard.__file__).parent]
    for package in app.version_packages:
        roots.append(Path(importlib.import_module(package).__file__ or "").parent)
    module = sys.modules.get(app.module)
    source = Path(getattr(module, "__file__", None) or "")
    package = app.module.split(".", 1)[0]
    if "." in app.module or (module is not None and hasattr(module, "__path__")):
        top = sys.modules.get(package)
        roots.append(Path(getattr(top, "__file__", None) or source).parent)
        return settings.service.version or code_version(roots)
    digest = hashlib.sha256(code_version(roots).encode())
    if source.is_file():
        digest.update(source.read_bytes())
    return settings.service.version or digest.hexdigest()[:12]


def create_app(app: App | None = None, settings: CoreSettings | None = None) -> Any:
    """The ASGI app serving ``app`` (default: the one ``SWITCHYARD_APP`` names, else the examples)."""
    import restate

    from switchyard.core import logs
    from switchyard.core.asgi import with_lifespan, with_metrics
    from switchyard.core.gate import start_gate
    from switchyard.core.identity import check_exposure, service_identity_keys
    from switchyard.core.kafka import AsyncProducer
    from switchyard.core.preflight import check_service
    from switchyard.core.sink import SinkRuntime
    from switchyard.core.versions import with_version

    try:
        if app is None:
            app = load_app(app_spec())
        if settings is None:
            settings = app_settings(app)
    except UsageProblem as exc:  # the server's worker would print a long traceback: one line (exit 2)
        exit_with_error(exc)
    logs.configure(settings.service.log_level)
    identity_keys = service_identity_keys(settings.service)
    check_exposure(settings.service, identity_keys)
    check_service(app.catalogue(), settings.kafka)  # a refused login or a missing ACL: one line, exit 2
    producer = AsyncProducer(settings.kafka.client_config(), settings.kafka.results_linger.total_seconds() * 1000)
    atexit.register(producer.close)
    gate = start_gate(app.catalogue(), settings.kafka, settings.gate, settings.service.bind, settings.service.workers)
    if gate is not None:
        atexit.register(gate.stop)
    served = restate.app(app.build(SinkRuntime(producer, settings.retries), settings),
                         identity_keys=identity_keys or None)

    def shutdown() -> None:
        if gate is not None:
            gate.stop()
        producer.close()

    return with_lifespan(with_version(with_metrics(served), app_version(app, settings)), shutdown)


def granian_command(host: str, port: int, workers: int, factory: str) -> list[str]:
    """granian serving the ASGI factory ``factory`` (``module:function``) over HTTP/2
    cleartext, as Restate calls a service."""
    return [
        sys.executable, "-m", "granian",
        "--interface", "asgi", "--factory",
        # Restate speaks HTTP/2 with prior knowledge, many invocations on one connection;
        # "auto" also answers HTTP/1.1 (a curl to /health, a 401 to an unsigned caller).
        "--http", "auto", "--http2-max-concurrent-streams", "1000",
        "--host", host, "--port", str(port),
        "--workers", str(workers),
        # One event loop thread per worker: the handlers are asyncio; more runtime threads
        # only add hand-offs (measured in docs/benchmarks.md).
        "--runtime-mode", "st",
        # Granian's default caps a worker at backlog/workers requests in flight; Restate
        # may hold an invocation open per busy key, so the cap must not bind first.
        "--backpressure", "100000",
        # Restate keeps its HTTP/2 connection open, so a graceful stop would wait for it
        # forever: after 5 s the worker is stopped (hypercorn.toml's graceful_timeout). A
        # stop mid-invocation is a crash Restate retries; the gate commits only what is copied.
        "--workers-kill-timeout", "5",
        "--no-ws", "--no-access-log", "--log-level", "warning",
        factory,
    ]


def app_command(settings: CoreSettings) -> list[str]:
    """The command serving the app ``SWITCHYARD_APP`` names, on ``settings.service``."""
    host, port = settings.service.address
    return granian_command(host, port, settings.service.workers, FACTORY)


def app_env(spec: str, settings: CoreSettings) -> dict[str, str]:
    """The variables a served app's process needs beyond the environment: which app, and
    the settings ``app_settings`` filled in (so every worker agrees on them)."""
    return {
        APP_ENV: spec,
        "SWITCHYARD_SERVICE__BIND": settings.service.bind,
        "SWITCHYARD_RESTATE__DEPLOYMENT_URL": str(settings.restate.deployment_url),
        "SWITCHYARD_GATE__GROUP_ID": settings.gate.group_id,
        "SWITCHYARD_GATE__TRANSACTIONAL_ID": settings.gate.transactional_id or "",
    }
