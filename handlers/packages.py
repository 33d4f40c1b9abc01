"""PackageTracker: packages registered over HTTP, enriched by `package-location-updates`.

State `package-info` keeps the seed's shape so `restate kv get PackageTracker <id>` shows
`{"finalDestination", "locations": [...]}`.
"""

from __future__ import annotations

import logging

import restate

from handlers.access import QUERY, public
from handlers.settings import PackageSettings
from schemas.catalogue import topic
from schemas.packages import LocationRecorded, LocationUpdate, PackageInfo, PackageRegistration
from switchyard.core.sink import SinkRuntime, body_handler, sink_handler

log = logging.getLogger(__name__)
TOPIC = topic("package-location-updates")
PACKAGE_INFO = "package-info"


def not_found(package_id: str) -> restate.TerminalError:
    return restate.TerminalError(f"Package {package_id} not found", 404)


def with_location(info: PackageInfo, update: LocationUpdate, keep: int) -> tuple[PackageInfo, int]:
    """The info with ``update`` appended and at most ``keep`` locations (the oldest go);
    also how many went."""
    locations = [*info.locations, update]
    dropped = max(0, len(locations) - keep)
    return info.model_copy(update={"locations": locations[dropped:]}), dropped


def build(runtime: SinkRuntime, settings: PackageSettings) -> restate.VirtualObject:
    tracker = restate.VirtualObject("PackageTracker")

    @body_handler(tracker.handler, "registerPackage", PackageRegistration,
                  **public("contract HTTP path: registers a package"))
    async def register_package(ctx: restate.ObjectContext, registration: PackageRegistration) -> None:
        # Registering again starts the package over, as in the seed.
        ctx.set(PACKAGE_INFO, PackageInfo(finalDestination=registration.finalDestination))
        log.info("Registered package %s for %s", ctx.key(), registration.finalDestination)

    @sink_handler(tracker.handler, TOPIC, runtime, **public(f"Kafka sink of {TOPIC.name}"))
    async def update_location(ctx: restate.ObjectContext, update: LocationUpdate) -> LocationRecorded:
        info = await ctx.get(PACKAGE_INFO, type_hint=PackageInfo)
        if info is None:
            raise not_found(ctx.key())
        info, dropped = with_location(info, update, settings.max_locations)
        ctx.set(PACKAGE_INFO, info)
        log.info("Package %s is at %s (%s)", ctx.key(), update.location, update.timestamp)
        return LocationRecorded(finalDestination=info.finalDestination, location=update,
                                locationCount=len(info.locations), dropped=dropped)

    @tracker.handler("getPackageInfo", kind="shared", **QUERY)
    async def get_package_info(ctx: restate.ObjectSharedContext) -> PackageInfo:
        info = await ctx.get(PACKAGE_INFO, type_hint=PackageInfo)
        if info is None:
            raise not_found(ctx.key())
        return info

    return tracker
