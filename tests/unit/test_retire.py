"""The bootstrap retires only older versions of its own services, and only once drained."""

from __future__ import annotations

from typing import Any

from switchyard.core import bootstrap
from switchyard.core.bootstrap import retire_drained


class FakeAdmin:
    def __init__(self, deployments: list[dict[str, Any]], inflight: dict[str, int]) -> None:
        self._deployments, self._inflight = deployments, inflight
        self.deleted: list[str] = []

    def deployments(self) -> list[dict[str, Any]]:
        return self._deployments

    def inflight_by_deployment(self) -> dict[str, int]:
        return self._inflight

    def delete_deployment(self, deployment_id: str) -> None:
        self.deleted.append(deployment_id)


def deployment(ident: str, uri: str, *services: str) -> dict[str, Any]:
    return {"id": ident, "uri": uri, "services": [{"name": s, "revision": 1} for s in services]}


def test_only_drained_older_versions_of_our_services_are_retired(monkeypatch: Any) -> None:
    monkeypatch.setattr(bootstrap, "_serves", lambda uri: True)
    admin = FakeAdmin([
        deployment("new", "http://h:1/v/v3", "UserFeed", "PackageTracker"),
        deployment("old-drained", "http://h:1/v/v1", "UserFeed", "PackageTracker"),
        deployment("old-busy", "http://h:2/v/v2", "UserFeed"),
        deployment("other-app", "http://h:9/v/x1", "Greeter"),  # another app's: never ours to retire
    ], inflight={"old-busy": 3})
    retired, draining = retire_drained(admin, "new")  # type: ignore[arg-type]
    assert admin.deleted == ["old-drained"]
    assert retired == ["v1 (http://h:1/v/v1)"]
    assert draining == ["v2 at http://h:2/v/v2: 3 in flight, served"]
