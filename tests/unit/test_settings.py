"""Durations from the environment: seconds or ISO 8601, as the README says."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from handlers.settings import HandlerSettings, ProviderSettings
from switchyard.core.settings import CoreSettings, SettingsError, load, split_host_port
from switchyard.settings import Settings


@pytest.mark.parametrize(("raw", "expected"), [
    ("5", timedelta(seconds=5)), ("0.5", timedelta(milliseconds=500)), ("PT5S", timedelta(seconds=5)),
    ("P1D", timedelta(days=1)),
])
def test_a_duration_is_seconds_or_iso8601(raw: str, expected: timedelta, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHYARD_UPLOADS__SYNC_TIMEOUT", raw)
    assert Settings().uploads.sync_timeout == expected


def test_a_bad_duration_names_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHYARD_UPLOADS__SYNC_TIMEOUT", "soon")
    with pytest.raises(ValidationError, match="sync_timeout"):
        Settings()


def test_window_lists_take_seconds_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHYARD_STREAMS__WINDOWS", '[2, "PT10S"]')
    assert Settings().streams.windows == [timedelta(seconds=2), timedelta(seconds=10)]


def test_the_simulators_published_secrets_are_refused_against_a_real_provider() -> None:
    with pytest.raises(ValueError, match="SWITCHYARD_PROVIDER__SECRET_KEY"):
        ProviderSettings(api_base="https://api.stripe.com")
    with pytest.raises(ValueError, match="SWITCHYARD_PROVIDER__WEBHOOK_SECRET"):
        ProviderSettings(api_base="https://api.stripe.com", secret_key="sk_live_real")
    ProviderSettings(api_base="https://api.stripe.com", secret_key="sk_live_real", webhook_secret="whsec_real")
    ProviderSettings(api_base="http://127.0.0.1:12111")  # the local simulator keeps its defaults


# Settings refuse mistakes when they are read: one line naming the variable, no traceback.

@pytest.mark.parametrize(("name", "value", "says"), [
    ("SWITCHYARD_KAFKA__BOOTSTRAP_SERVER", "x:1", "SWITCHYARD_KAFKA__BOOTSTRAP_SERVER: unknown setting"),
    ("SWITCHYARD_KAFKA__BOOTSTRAP_SERVERS", "kafka",
     "SWITCHYARD_KAFKA__BOOTSTRAP_SERVERS='kafka': Value error, expected host:port"),
    ("SWITCHYARD_RESTATE__ADMIN_URL", "localhost",
     "SWITCHYARD_RESTATE__ADMIN_URL='localhost': Value error, expected an http(s)"),
    ("SWITCHYARD_SERVICE__BIND", "nonsense", "SWITCHYARD_SERVICE__BIND='nonsense'"),
    ("SWITCHYARD_SERVICE__LOG_LEVEL", "LOUD", "SWITCHYARD_SERVICE__LOG_LEVEL='LOUD'"),
    ("SWITCHYARD_STREAMS__WEB_BIND", "6066", "SWITCHYARD_STREAMS__WEB_BIND='6066'"),
    ("SWITCHYARD_STACK__HOEM", ".stack", "SWITCHYARD_STACK__HOEM: unknown setting"),
    ("SWITCHYARD_KAFKAA__BOOTSTRAP_SERVERS", "x:1", "SWITCHYARD_KAFKAA__BOOTSTRAP_SERVERS: no such section"),
])
def test_a_mistake_is_one_line_naming_the_variable(name: str, value: str, says: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as info:
        load(Settings)
    message = str(info.value)
    assert message.startswith(says)
    assert "\n" not in message


def test_each_layer_refuses_a_typo_in_its_own_sections(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHYARD_GATE__BATCH_RECORD", "5")
    with pytest.raises(SettingsError, match="SWITCHYARD_GATE__BATCH_RECORD: unknown setting"):
        load(CoreSettings)
    monkeypatch.delenv("SWITCHYARD_GATE__BATCH_RECORD")
    monkeypatch.setenv("SWITCHYARD_UPLOADS__SYNC_TIMEOUTS", "5")
    with pytest.raises(SettingsError, match="SWITCHYARD_UPLOADS__SYNC_TIMEOUTS"):
        load(HandlerSettings)


def test_good_values_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHYARD_SERVICE__LOG_LEVEL", "debug")
    monkeypatch.setenv("SWITCHYARD_SERVICE__BIND", ":9080")
    monkeypatch.setenv("SWITCHYARD_KAFKA__BOOTSTRAP_SERVERS", "a:9092,[::1]:9093")
    monkeypatch.setenv("SWITCHYARD_RESTATE__ADMIN_URL", "https://restate.example.com/")
    settings = load(Settings)
    assert settings.service.log_level == "DEBUG"
    assert settings.kafka_address == ("a", 9092)
    assert settings.admin_address == ("restate.example.com", 443)
    assert settings.restate.admin_url == "https://restate.example.com"


@pytest.mark.parametrize(("address", "expected"), [
    ("127.0.0.1:9092", ("127.0.0.1", 9092)), ("[::1]:80", ("::1", 80)), (":9080", ("", 9080)),
])
def test_host_port(address: str, expected: tuple[str, int]) -> None:
    assert split_host_port(address) == expected


@pytest.mark.parametrize("address", ["9092", "host:", "host:http", "host:0", "host:70000", "a b:1"])
def test_host_port_refuses(address: str) -> None:
    with pytest.raises(ValueError, match="expected host:port"):
        split_host_port(address)
