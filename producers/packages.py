"""Location events for `package-location-updates`: from arguments or generated."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta

from schemas.packages import LocationUpdate

SEED_DEMO = [
    ("package1", LocationUpdate(timestamp="2024-10-10 13:00", location="Pinetree Road 5, Paris")),
    ("package1", LocationUpdate(timestamp="2024-10-10 14:00", location="Mountain Road 155, Brussels")),
]
CITIES = ["Paris", "Brussels", "Amsterdam", "Antwerp", "Lille", "Utrecht", "Rotterdam", "Ghent"]


def location(package_id: str, where: str, timestamp: str) -> tuple[str, bytes]:
    return package_id, LocationUpdate(location=where, timestamp=timestamp).model_dump_json().encode()


def generate(count: int, packages: int, seed: int) -> Iterator[tuple[str, bytes]]:
    rng = random.Random(seed)
    clock = datetime(2024, 10, 10, 8, 0)
    for n in range(count):
        clock += timedelta(minutes=rng.randrange(1, 30))
        where = f"{rng.randrange(1, 300)} Main Street, {rng.choice(CITIES)}"
        yield location(f"package{n % packages}", where, clock.strftime("%Y-%m-%d %H:%M"))
