"""Location events for `package-location-updates`: from arguments (`switchyard locate`),
and the seed walkthrough's own (the demo). Generated ones are the topic's sample records
(``LocationUpdate.sample``)."""

from __future__ import annotations

from schemas.packages import LocationUpdate

SEED_DEMO = [
    ("package1", LocationUpdate(timestamp="2024-10-10 13:00", location="Pinetree Road 5, Paris")),
    ("package1", LocationUpdate(timestamp="2024-10-10 14:00", location="Mountain Road 155, Brussels")),
]


def location(package_id: str, where: str, timestamp: str) -> tuple[str, bytes]:
    return package_id, LocationUpdate(location=where, timestamp=timestamp).model_dump_json().encode()
