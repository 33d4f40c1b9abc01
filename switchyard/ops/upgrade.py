"""A rolling upgrade: the new version beside the old, registered, the old drained and retired.

Restate pins an invocation to the deployment it started on. So the new version is started
at an address of its own and registered as a new deployment (switchyard/core/versions.py):
new invocations go to it at once, while the old version keeps serving those pinned to it
(a post sleeping between moderation polls, a payment waiting for its webhook, a saga
halfway). Once none is in flight there, the old deployment is unregistered and its
process stopped. Nothing replays on code it did not start on, so a changed journal (a new
`ctx.run` step) never meets an old invocation.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from switchyard.core.admin import RestateAdmin
from switchyard.core.bootstrap import served_version
from switchyard.core.errors import UsageProblem
from switchyard.core.versions import base_of, version_of, versioned_url

Progress = Callable[[str], None]


class UpgradeRefused(UsageProblem, RuntimeError):
    """Nothing to roll, or the drain did not end in time."""


@dataclass
class UpgradeReport:
    old_version: str
    new_version: str
    new_deployment: str
    in_flight_at_switch: int = 0
    drain_seconds: float = 0.0
    retired: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [
            f"version {self.new_version} registered at {self.new_deployment}; new invocations go there",
            f"version {self.old_version}: {self.in_flight_at_switch} invocation(s) in flight at the switch, "
            f"drained in {self.drain_seconds:.1f}s",
            f"retired: {', '.join(self.retired) or 'nothing'}",
        ]


def journal_mismatches(admin: RestateAdmin) -> list[str]:
    """Invocations whose last attempt failed on a journal mismatch (Restate's RT0016, "[570
    Journal mismatch]"): what replaying on changed code does. A mismatched invocation keeps
    retrying, so it stays listed until it is fixed or cancelled."""
    rows = admin.query("SELECT id, last_failure FROM sys_invocation WHERE last_failure_error_code = 'RT0016' "
                       "OR last_failure LIKE '%Journal mismatch%'")
    return [f"{r['id']}: {str(r.get('last_failure', ''))[:200]}" for r in rows]


def old_deployments(admin: RestateAdmin, old_url: str, new_version: str | None = None) -> dict[str, str]:
    """Deployment id -> URI of every deployment at the old process's address, but the new
    version's: on a cluster both versions are served at one address (HAProxy's, which
    routes each version's path to that version's replicas), and every other version
    there is old."""
    base = old_url.rstrip("/")
    found = {str(d["id"]): str(d.get("uri", "")) for d in admin.deployments()}
    return {i: uri for i, uri in found.items()
            if base_of(uri) == base and (new_version is None or version_of(uri) != new_version)}


def roll(admin: RestateAdmin, old_url: str, new_url: str, *, drain_timeout: float,
         progress: Progress = print, poll: float = 0.5, old_version: str | None = None,
         new_version: str | None = None) -> UpgradeReport:
    """Registers the service at ``new_url`` (already running) as its own deployment, waits
    until nothing is in flight on the other deployments at ``old_url``, and unregisters
    them. The caller stops the old process afterwards (and not before: its invocations
    need it). Each version is asked at its URL (``GET /version``) unless given: on a
    cluster both URLs are HAProxy's and the caller knows which version each replica runs."""
    if old_version is None:
        old_version = served_version(old_url)
    if new_version is None:
        new_version = served_version(new_url)
    if not new_version:
        raise UpgradeRefused(f"the service at {new_url} has no version (GET /version): it cannot be rolled out")
    if new_version == old_version:
        raise UpgradeRefused(f"the new process runs version {new_version}, as the old one does: nothing to roll "
                             f"out (a code change, or SWITCHYARD_SERVICE__VERSION, makes a new version)")
    olds = old_deployments(admin, old_url, new_version)
    deployment = versioned_url(new_url, new_version)
    admin.register_deployment(deployment)
    report = UpgradeReport(old_version=old_version or "unversioned", new_version=new_version,
                           new_deployment=deployment)
    progress(f"registered version {new_version} at {deployment}; draining {report.old_version} "
             f"({', '.join(olds.values()) or 'no deployment'})")
    began, last_said = time.monotonic(), -1
    while True:
        try:
            inflight = admin.inflight_by_deployment()
        except RuntimeError as exc:  # a query Restate failed (a loaded node's "no such scanner"): ask again
            if time.monotonic() - began > drain_timeout:
                raise
            progress(f"draining version {report.old_version}: could not count what is in flight ({exc}); "
                     f"asking again")
            time.sleep(max(poll, 1.0))
            continue
        left = sum(inflight.get(i, 0) for i in olds)
        if report.drain_seconds == 0 and not report.in_flight_at_switch:
            report.in_flight_at_switch = left
        if left == 0:
            break
        waited = time.monotonic() - began
        if waited > drain_timeout:
            raise UpgradeRefused(
                f"version {report.old_version} still has {left} invocation(s) in flight after {drain_timeout:g}s: "
                f"both versions keep serving; run the upgrade again later to retire it (or raise --drain-timeout)")
        if left != last_said:
            progress(f"draining version {report.old_version}: {left} invocation(s) in flight ({waited:.0f}s)")
            last_said = left
        time.sleep(poll)
    report.drain_seconds = time.monotonic() - began
    for deployment_id, uri in olds.items():
        admin.delete_deployment(deployment_id)
        report.retired.append(f"{version_of(uri) or 'unversioned'} ({uri})")
    return report
