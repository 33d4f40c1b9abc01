"""The key gate's decision: which keys can be an object key."""

import pytest

from schemas.catalogue import topic
from switchyard.gate import key_problem

PACKAGES = topic("package-location-updates")


@pytest.mark.parametrize("key", [b"pkg-1", "Zürich-東京".encode(), b"0"])
def test_a_utf8_key_passes(key: bytes) -> None:
    assert key_problem(PACKAGES, key) is None


@pytest.mark.parametrize(("key", "error_class"), [
    (None, "MissingKey"), (b"", "MissingKey"), (b"\xff\xfe", "InvalidKey"), (b"ok\xc3\x28", "InvalidKey"),
    (b"\x80", "InvalidKey"),
])
def test_a_key_that_cannot_be_an_object_key_is_named(key: bytes | None, error_class: str) -> None:
    problem = key_problem(PACKAGES, key)
    assert problem is not None
    assert problem.error_class == error_class
    assert "packageId" in problem.reason
