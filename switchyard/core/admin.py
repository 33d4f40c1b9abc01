"""A small client for Restate's admin API (clusters, deployments, subscriptions, SQL)."""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

import httpx

from switchyard.core.errors import UsageProblem


class ComponentDown(UsageProblem, RuntimeError):
    """A component did not answer; the message names it and its address."""


class DeploymentConflict(UsageProblem, RuntimeError):
    """Other code is already registered at the deployment's URI."""


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("message", response.text))
    except ValueError:
        return response.text


class Subscription(TypedDict):
    """One of Restate's Kafka subscriptions, as `GET /subscriptions` lists it."""

    id: str
    source: str  # kafka://<cluster>/<topic> (kafka_source)
    sink: str  # service://<service>/<handler>
    options: NotRequired[dict[str, str]]


def kafka_source(cluster: str, topic: str) -> str:
    """A subscription's source: ``topic`` on the Kafka cluster Restate knows as ``cluster``."""
    return f"kafka://{cluster}/{topic}"


class RestateAdmin:
    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, allow: tuple[int, ...] = (), **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ComponentDown(f"Restate admin API at {self.url} is not reachable ({exc})") from None
        if response.status_code >= 400 and response.status_code != 404 and response.status_code not in allow:
            raise RuntimeError(f"Restate admin {method} {path} -> {response.status_code}: {response.text}")
        return response

    def kafka_cluster(self, name: str) -> dict[str, Any] | None:
        response = self._call("GET", f"/kafka-clusters/{name}")
        return None if response.status_code == 404 else dict(response.json())

    def create_kafka_cluster(self, name: str, properties: dict[str, str]) -> None:
        self._call("POST", "/kafka-clusters", json={"name": name, "properties": properties})

    def update_kafka_cluster(self, name: str, properties: dict[str, str]) -> None:
        self._call("PATCH", f"/kafka-clusters/{name}", json={"properties": properties})

    def register_deployment(self, uri: str, force: bool = False) -> dict[str, Any]:
        """Registers the deployment at ``uri``; the same code at the same URI again is a
        no-op. Other code at a URI already registered is refused (409) unless ``force``,
        which makes the invocations in flight there replay on the new code."""
        response = self._call("POST", "/deployments", json={"uri": uri, "force": force}, allow=(409,))
        if response.status_code == 409:
            raise DeploymentConflict(
                f"Restate already has other code registered at {uri}: {_message(response)}. A changed build "
                f"needs a version of its own (SWITCHYARD_SERVICE__VERSION, or leave it unset for a digest of the "
                f"code); forcing it (SWITCHYARD_RESTATE__FORCE_REGISTER=true, development only) breaks the "
                f"invocations in flight there")
        if response.status_code == 404:
            raise RuntimeError(f"Restate could not register {uri}: {response.text}")
        return dict(response.json())

    def inflight_by_deployment(self) -> dict[str, int]:
        """Invocations not yet completed, per deployment they are pinned to (an invocation
        that has not started yet is pinned to none and goes to the newest)."""
        rows = self.query("SELECT pinned_deployment_id AS d, count(*) AS n FROM sys_invocation "
                          "WHERE status != 'completed' AND pinned_deployment_id IS NOT NULL "
                          "GROUP BY pinned_deployment_id")
        return {str(r["d"]): int(r["n"]) for r in rows}

    def deployments(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/deployments").json()["deployments"])

    def delete_deployment(self, deployment_id: str) -> None:
        """Removes a deployment; forced, the only way Restate supports (an invocation of
        it still in flight breaks)."""
        self._call("DELETE", f"/deployments/{deployment_id}", params={"force": "true"})

    def services(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/services").json()["services"])

    def subscriptions(self) -> list[Subscription]:
        subscriptions: list[Subscription] = self._call("GET", "/subscriptions").json()["subscriptions"]
        return subscriptions

    def create_subscription(self, source: str, sink: str, options: dict[str, str]) -> dict[str, Any]:
        body = {"source": source, "sink": sink, "options": options}
        return dict(self._call("POST", "/subscriptions", json=body).json())

    def delete_subscription(self, subscription_id: str) -> None:
        self._call("DELETE", f"/subscriptions/{subscription_id}")

    def query(self, sql: str) -> list[dict[str, Any]]:
        response = self._call("POST", "/query", json={"query": sql}, headers={"accept": "application/json"})
        return list(response.json()["rows"])

    def resume_invocation(self, invocation_id: str) -> None:
        """Resumes a paused invocation (it retries from its journal)."""
        self._call("PATCH", f"/invocations/{invocation_id}/resume")
