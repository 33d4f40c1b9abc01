"""package-location-updates: location events enriching registered packages."""

from pydantic import Field

from schemas.base import Payload


class LocationUpdate(Payload):
    location: str = Field(max_length=1_000)
    timestamp: str = Field(max_length=100)


class PackageRegistration(Payload):
    finalDestination: str = Field(max_length=1_000)


class PackageInfo(Payload):
    """State `package-info` of PackageTracker, as `restate kv get` shows it."""

    finalDestination: str
    locations: list[LocationUpdate] = Field(default_factory=list)
