"""Testing an App: in process in milliseconds, or served on a real stack.

* ``Harness(app)`` (harness.py): ``send(topic, key, value) -> Outcome`` runs the app's own
  sink handler on the record with a context kept in memory (no broker, no
  restate-server): the outcome is the ``-results`` record, or the ``-dlq`` record with its
  reason, exactly as the sink would publish it;
* ``private_stack(app)`` (stack.py): Kafka and Restate on free ports, the app served and
  bootstrapped; its ``send`` returns the same ``Outcome`` read from the real topics;
* the pytest plugin (pytest_plugin.py, registered as ``switchyard``): the fixtures
  ``switchyard_harness`` and ``switchyard_stack`` for a session-scoped ``switchyard_app``.

Import rule: beside the fault suite (it starts stacks with switchyard.stack), below the
CLI (docs/architecture.md). The names load when first used: the plugin stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from switchyard.testing.harness import Harness, HarnessError, Outcome, Produced
    from switchyard.testing.stack import ServedApp, private_stack

__all__ = ["Harness", "HarnessError", "Outcome", "Produced", "ServedApp", "private_stack"]

_WHERE = {"Harness": "harness", "HarnessError": "harness", "Outcome": "harness", "Produced": "harness",
          "ServedApp": "stack", "private_stack": "stack"}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value
