"""package-location-updates: location events enriching registered packages."""

from datetime import datetime, timedelta
from typing import Self

from pydantic import Field

from schemas.base import Payload, pad_to

CITIES = ("Paris", "Brussels", "Amsterdam", "Antwerp", "Lille", "Utrecht", "Rotterdam", "Ghent")
FIRST_SAMPLE_AT = datetime(2024, 10, 10, 8, 0)


class LocationUpdate(Payload):
    location: str = Field(max_length=1_000)
    timestamp: str = Field(max_length=100)

    @classmethod
    def sample(cls, n: int, size: int) -> Self:
        """The ``n``-th stop of a tour of the cities, a minute after the one before."""
        where = f"{n % 300 + 1} Main Street, {CITIES[n % len(CITIES)]}"
        when = FIRST_SAMPLE_AT + timedelta(minutes=n)
        return cls(location=pad_to(where, min(size, 1_000)), timestamp=when.strftime("%Y-%m-%d %H:%M"))


class PackageRegistration(Payload):
    finalDestination: str = Field(max_length=1_000)


class PackageInfo(Payload):
    """State `package-info` of PackageTracker, as `restate kv get` shows it."""

    finalDestination: str
    locations: list[LocationUpdate] = Field(default_factory=list)


class LocationRecorded(Payload):
    """What PackageTracker/updateLocation answers (and reports on the results topic): the
    location taken in and how many the package holds, not the whole history, which grows
    with every update and would make each result larger than the last."""

    finalDestination: str
    location: LocationUpdate
    locationCount: int
    # Oldest locations dropped to keep the history at `packages.max_locations`.
    dropped: int = 0
