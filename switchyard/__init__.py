"""Switchyard: Kafka-first durable event processing on Restate.

The code is in layers, top to bottom (docs/architecture.md); ``a | b`` are siblings that
do not import each other:

    switchyard.cli                      the `switchyard` command
    switchyard.faults | bench           the fault suite | the benchmark
    switchyard.stack                    the dev-stack launcher
    switchyard.ops                      operator tools: DLQ, paused invocations, metrics
    switchyard.settings                 the whole configuration
    producers                           demo traffic, load generator, ingress clients
    switchyard.simulators               payment provider, SMTP sink
    handlers | streams                  the example handlers | the Faust workers
    schemas                             payload models and the topic catalogue
    switchyard.serving                  any App served: gate, producer, metrics, version
    switchyard.app                      ``App``: a flow of your own, one decorator per handler
    switchyard.core                     what a flow of your own needs, and all of it builds on

(``switchyard.testing``, the in-process harness and the private stack fixture, sits
beside the fault suite.)

Import rule: a module imports only its own layer and those below it (import-linter,
`make lint`). This package itself imports none of them: ``import switchyard`` is light,
and ``switchyard.App`` loads ``switchyard.app`` (restate, pydantic) when first asked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from switchyard.app import App

__all__ = ["App"]


def __getattr__(name: str) -> Any:
    """``switchyard.App`` and ``switchyard.__version__``, each looked up when first asked
    (importlib.metadata costs ~25 ms, restate and pydantic far more, which every import of
    the package would pay)."""
    if name == "App":
        from switchyard.app import App

        globals()["App"] = App
        return App
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("switchyard")
    except PackageNotFoundError:
        found = "0+unknown"  # run from a checkout that was never installed
    globals()["__version__"] = found
    return found
