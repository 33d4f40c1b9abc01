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
    switchyard.core                     what a flow of your own needs, and all of it builds on

Import rule: a module imports only its own layer and those below it (import-linter,
`make lint`). This package itself imports none of them: ``import switchyard`` is light.
"""

from __future__ import annotations


def __getattr__(name: str) -> str:
    """``switchyard.__version__``: the installed package's version, looked up when first
    asked (importlib.metadata costs ~25 ms, which every import of the package would pay)."""
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("switchyard")
    except PackageNotFoundError:
        found = "0+unknown"  # run from a checkout that was never installed
    globals()["__version__"] = found
    return found
