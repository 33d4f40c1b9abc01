"""Request identity keys: made once, owner-only, in the form the SDK's verifier takes."""

import stat
from pathlib import Path

from restate._internal import PyIdentityVerifier  # type: ignore[import-not-found]

from switchyard.identity import base58, ensure_identity


def test_base58_matches_the_bitcoin_alphabet() -> None:
    assert base58(b"hello world") == "StV1DL6CwTryKyV"
    assert base58(b"\0\0\x01") == "112"


def test_key_is_private_and_stable(tmp_path: Path) -> None:
    first = ensure_identity(tmp_path / "identity")
    assert stat.S_IMODE(first.private_key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(first.private_key_file.parent.stat().st_mode) == 0o700
    assert ensure_identity(tmp_path / "identity") == first  # not regenerated on the next start


def test_public_key_is_accepted_by_the_sdk_verifier(tmp_path: Path) -> None:
    identity = ensure_identity(tmp_path)
    assert identity.public_key.startswith("publickeyv1_")
    PyIdentityVerifier([identity.public_key])  # raises IdentityKeyException on a malformed key
