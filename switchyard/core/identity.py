"""Restate request identity: restate-server signs every request to the service with an
ed25519 key, and the service accepts only requests signed with it.

The key pair is made on first start (private key file mode 0600 in a 0700 directory);
the public key in Restate's `publickeyv1_<base58>` form goes to the service's
`identity_keys`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from switchyard.core.errors import UsageProblem
from switchyard.core.settings import LOOPBACK, ServiceSettings

PRIVATE_KEY_FILE = "request-identity.pem"
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


@dataclass(frozen=True)
class Identity:
    private_key_file: Path
    public_key: str  # publickeyv1_...


def base58(data: bytes) -> str:
    """Bitcoin-alphabet base58, as Restate's key format uses."""
    number = int.from_bytes(data, "big")
    out = ""
    while number:
        number, digit = divmod(number, 58)
        out = _BASE58[digit] + out
    leading_zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * leading_zeros + out


def public_key_of(private_key: Ed25519PrivateKey) -> str:
    raw = private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "publickeyv1_" + base58(raw)


def ensure_identity(directory: Path) -> Identity:
    """The key pair in ``directory``, created with owner-only permissions if missing."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    path = directory / PRIVATE_KEY_FILE
    if not path.exists():
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        # Created 0600 from the start: never readable by others, not even briefly.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
    return Identity(path, public_key_from(path))


def public_key_from(path: Path) -> str:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an ed25519 private key")
    return public_key_of(key)


class UnsignedExposure(UsageProblem, RuntimeError):
    """The service would accept unsigned requests on an address others can reach."""


def service_identity_keys(service: ServiceSettings) -> list[str]:
    """The public keys the service accepts signatures of: the configured ones, plus that of
    the key in ``identity_dir`` (made there if missing)."""
    keys = list(service.identity_keys)
    if service.identity_dir is not None:
        existing = service.identity_dir / PRIVATE_KEY_FILE
        # Read-only where another container made it (docker-compose); made here otherwise.
        key = public_key_from(existing) if existing.exists() else ensure_identity(service.identity_dir).public_key
        if key not in keys:
            keys.append(key)
    return keys


def check_exposure(service: ServiceSettings, keys: list[str]) -> None:
    """Refuses to serve unsigned requests off loopback unless told so by name."""
    host = service.address[0] or "0.0.0.0"
    if keys or host in LOOPBACK or service.insecure_accept_unsigned:
        return
    raise UnsignedExposure(
        f"refusing to serve on {service.bind} without a Restate request-identity key: anyone who reaches it "
        "could invoke any handler. Set SWITCHYARD_SERVICE__IDENTITY_KEYS (restate-server's public key) or "
        "SWITCHYARD_SERVICE__IDENTITY_DIR, or SWITCHYARD_SERVICE__INSECURE_ACCEPT_UNSIGNED=true on a network "
        "you trust alone")
