"""PackageTracker's decisions, without a context."""

from handlers.packages import with_location
from schemas.packages import LocationUpdate, PackageInfo


def at(n: int) -> LocationUpdate:
    return LocationUpdate(timestamp=str(n), location=f"stop {n}")


def test_a_location_is_appended_in_order() -> None:
    info, dropped = with_location(PackageInfo(finalDestination="Ghent", locations=[at(0)]), at(1), keep=5)
    assert [e.location for e in info.locations] == ["stop 0", "stop 1"]
    assert dropped == 0


def test_past_the_limit_the_oldest_locations_go() -> None:
    info = PackageInfo(finalDestination="Ghent", locations=[at(n) for n in range(3)])
    kept, dropped = with_location(info, at(3), keep=3)
    assert [e.location for e in kept.locations] == ["stop 1", "stop 2", "stop 3"]
    assert dropped == 1
