"""pytest fixtures for an App (registered as the ``switchyard`` plugin; or list
``"switchyard.testing.pytest_plugin"`` in a conftest's ``pytest_plugins``).

Define a session-scoped ``switchyard_app`` fixture returning your App; then
``switchyard_harness`` is a fresh in-process ``Harness`` per test, and ``switchyard_stack``
the app served and bootstrapped on a private stack for the session (``ServedApp``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from switchyard.app import App
    from switchyard.testing.harness import Harness
    from switchyard.testing.stack import ServedApp


@pytest.fixture
def switchyard_harness(switchyard_app: App) -> Harness:
    from switchyard.testing.harness import Harness

    return Harness(switchyard_app)


@pytest.fixture(scope="session")
def switchyard_stack(switchyard_app: App) -> Iterator[ServedApp]:
    from switchyard.testing.stack import private_stack

    with private_stack(switchyard_app) as served:
        yield served
