"""Durations from the environment: seconds or ISO 8601, as the README says."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from handlers.settings import ProviderSettings
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
