"""Request identity keys: made once, owner-only, in the form the SDK's verifier takes."""

import stat
from pathlib import Path

import pytest
import yaml
from restate._internal import PyIdentityVerifier  # type: ignore[import-not-found]

from switchyard.core.identity import UnsignedExposure, base58, check_exposure, ensure_identity, service_identity_keys
from switchyard.core.settings import ServiceSettings
from switchyard.stack.paths import REPO


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


def service(**fields: object) -> ServiceSettings:
    return ServiceSettings.model_validate(fields)


@pytest.mark.parametrize("bind", ["0.0.0.0:9080", "10.1.2.3:9080", ":9080", "[::]:9080"])
def test_an_exposed_service_without_identity_keys_refuses_to_start(bind: str) -> None:
    with pytest.raises(UnsignedExposure, match="SWITCHYARD_SERVICE__IDENTITY_KEYS"):
        check_exposure(service(bind=bind), [])


@pytest.mark.parametrize("bind", ["127.0.0.1:9080", "localhost:9080", "[::1]:9080"])
def test_a_loopback_service_may_run_unsigned(bind: str) -> None:
    check_exposure(service(bind=bind), [])


def test_an_exposed_service_runs_with_keys_or_the_loud_opt_out(tmp_path: Path) -> None:
    check_exposure(service(bind="0.0.0.0:9080"), ["publickeyv1_x"])
    check_exposure(service(bind="0.0.0.0:9080", insecure_accept_unsigned=True), [])


def test_the_identity_dir_gives_the_key_restate_signs_with(tmp_path: Path) -> None:
    made = ensure_identity(tmp_path / "id")
    settings = service(bind="0.0.0.0:9080", identity_dir=str(tmp_path / "id"), identity_keys=["publickeyv1_a"])
    assert service_identity_keys(settings) == ["publickeyv1_a", made.public_key]
    # Read-only, as docker-compose mounts it for the service: read, never rewritten.
    (tmp_path / "id").chmod(0o500)
    try:
        assert service_identity_keys(settings)[-1] == made.public_key
    finally:
        (tmp_path / "id").chmod(0o700)


def test_serve_refuses_an_exposed_bind_with_a_one_line_error(monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    from switchyard.cli import main as cli

    monkeypatch.setenv("SWITCHYARD_SERVICE__BIND", "0.0.0.0:9080")
    monkeypatch.setattr("os.execv", lambda *a: pytest.fail("served unsigned on 0.0.0.0"))
    assert cli.main(["serve"]) == 2
    assert "refusing to serve on 0.0.0.0:9080" in capsys.readouterr().err


def test_docker_compose_wires_the_identity_key_to_restate_and_the_service() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    restate_env = compose["restate"]["environment"]
    key_file = restate_env["RESTATE_WORKER__INVOKER__REQUEST_IDENTITY_PRIVATE_KEY_PEM_FILE"]
    assert key_file == "/identity/request-identity.pem"
    assert compose["service"]["environment"]["SWITCHYARD_SERVICE__IDENTITY_DIR"] == "/identity"
    assert compose["identity"]["command"] == ["switchyard", "identity", "/identity"]
    assert "SWITCHYARD_SERVICE__INSECURE_ACCEPT_UNSIGNED" not in compose["service"]["environment"]
