"""Settings from the environment and `.env`: durations (seconds or ISO 8601, as the README
says), ports and host:port addresses, and every mistake refused in one line naming its
variable, by `load`, by the private stacks' settings and by each entry point (exit 2)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from handlers.settings import ExampleStackSettings, HandlerSettings, ProviderSettings
from switchyard.core.settings import CoreSettings, SettingsError, load, load_or_exit, split_host_port
from switchyard.settings import Settings
from switchyard.stack.ephemeral import ephemeral_settings


@pytest.mark.parametrize(("raw", "expected"), [
    ("5", timedelta(seconds=5)), ("0.5", timedelta(milliseconds=500)), ("PT5S", timedelta(seconds=5)),
    ("P1D", timedelta(days=1)),
])
def test_a_duration_is_seconds_or_iso8601(raw: str, expected: timedelta, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHYARD_UPLOADS__SYNC_TIMEOUT", raw)
    assert ExampleStackSettings().uploads.sync_timeout == expected


def test_a_bad_duration_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHYARD_UPLOADS__SYNC_TIMEOUT", "soon")
    with pytest.raises(SettingsError, match=r"^SWITCHYARD_UPLOADS__SYNC_TIMEOUT='soon': "):
        load(ExampleStackSettings)


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
    # Lists, mappings and sections are JSON: pydantic-settings' own error names only the field.
    ("SWITCHYARD_KAFKA__PROPERTIES", "notjson",
     "SWITCHYARD_KAFKA__PROPERTIES: not valid JSON (Expecting value: line 1 column 1 (char 0)); it takes a JSON "
     "object"),
    ("SWITCHYARD_SERVICE__IDENTITY_KEYS", "abc", "SWITCHYARD_SERVICE__IDENTITY_KEYS: not valid JSON"),
    ("SWITCHYARD_KAFKA", "x", "SWITCHYARD_KAFKA: not valid JSON"),
    ("SWITCHYARD_STACK__RESTATE_NODE_PORT", "99999",
     "SWITCHYARD_STACK__RESTATE_NODE_PORT='99999': Input should be less than or equal to 65535"),
    ("SWITCHYARD_STACK__KAFKA_CONTROLLER_PORT", "0", "SWITCHYARD_STACK__KAFKA_CONTROLLER_PORT='0': Input should be"),
    ("SWITCHYARD_EMAIL__SMTP_PORT", "65536", "SWITCHYARD_EMAIL__SMTP_PORT='65536': Input should be"),
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


@pytest.mark.parametrize("address", ["[::1:9092", "::1]:9092", "[[::1]]:9092", "[::1]]:9092", "a[b]:1"])
def test_host_port_refuses_unbalanced_brackets(address: str) -> None:
    with pytest.raises(ValueError, match="expected host:port"):
        split_host_port(address)


def test_only_the_bad_json_variable_of_a_section_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHYARD_KAFKA__BOOTSTRAP_SERVERS", "a:9092")  # not JSON, and need not be
    monkeypatch.setenv("SWITCHYARD_KAFKA__SUBSCRIPTION_OPTIONS", '{"a": "b"}')
    monkeypatch.setenv("SWITCHYARD_KAFKA__PROPERTIES", '{"security.protocol": ')
    with pytest.raises(SettingsError) as info:
        load(Settings)
    assert str(info.value).startswith("SWITCHYARD_KAFKA__PROPERTIES: not valid JSON (Expecting value")
    assert "BOOTSTRAP_SERVERS" not in str(info.value)
    assert "SUBSCRIPTION_OPTIONS" not in str(info.value)


# .env (in the working directory) is read like the environment, and checked like it.

def test_a_mistyped_section_in_dotenv_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("OTHER_TOOL=1\nSWITCHYARD_SERVICE__WORKERS=2\nSWITCHYARD_SERVIEC__WORKERS=3\n")
    with pytest.raises(SettingsError) as info:
        load(Settings)
    assert str(info.value).startswith("SWITCHYARD_SERVIEC__WORKERS (in .env): no such section (known: ")
    load(CoreSettings)  # a layer does not know every section: it leaves the others to theirs
    assert load(Settings, _env_file=None).service.workers == 1  # no .env read, none checked


def test_dotenv_values_load_and_bad_json_there_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("SWITCHYARD_SERVICE__WORKERS=2\n")
    assert load(Settings).service.workers == 2
    (tmp_path / ".env").write_text("SWITCHYARD_RETRIES__POISON_KEYS=a,b\n")
    with pytest.raises(SettingsError, match=r"^SWITCHYARD_RETRIES__POISON_KEYS \(in \.env\): not valid JSON"):
        load(Settings)


# The private stacks' settings (bench, hops, faults, the integration tests) load the same way.

def test_private_stack_settings_merge_over_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHYARD_SERVICE__WORKERS", "3")  # a field the private stack leaves alone: applies
    monkeypatch.setenv("SWITCHYARD_SERVICE__BIND", "127.0.0.1:1")  # one it sets: its own wins
    monkeypatch.setenv("SWITCHYARD_KAFKA__TOPIC_PARTITIONS", "7")  # one the caller sets: the caller's wins
    settings = ephemeral_settings(tmp_path, read_env_file=False, kafka={"topic_partitions": 2})
    assert settings.service.workers == 3
    assert settings.service.bind != "127.0.0.1:1"
    assert settings.kafka.topic_partitions == 2
    assert settings.stack.home == tmp_path


def test_private_stack_settings_refuse_mistakes_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHYARD_SERVICE__WORKERS", "many")
    with pytest.raises(SettingsError, match=r"^SWITCHYARD_SERVICE__WORKERS='many': "):
        ephemeral_settings(tmp_path, read_env_file=False)
    monkeypatch.delenv("SWITCHYARD_SERVICE__WORKERS")
    monkeypatch.setenv("SWITCHYARD_SERVIEC__WORKERS", "2")
    with pytest.raises(SettingsError, match=r"^SWITCHYARD_SERVIEC__WORKERS: no such section"):
        ephemeral_settings(tmp_path, read_env_file=False)


def test_private_stack_settings_read_dotenv_unless_told(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("SWITCHYARD_SERVICE__WORKERS=4\nSWITCHYARD_SERVICE__BIND=127.0.0.1:1\n")
    settings = ephemeral_settings(tmp_path / "home")
    assert settings.service.workers == 4
    assert settings.service.bind != "127.0.0.1:1"
    assert ephemeral_settings(tmp_path / "home", read_env_file=False).service.workers == 1


# Every entry point outside the CLI says a bad setting as the CLI does: one line, exit 2.

def _provider() -> None:
    from switchyard.simulators.provider import main

    main([])


def _smtp() -> None:
    from switchyard.simulators.smtp import main

    main(["--dir", "unused"])


def _service() -> None:
    from switchyard.serving import create_app

    create_app()


def _streams(datadir: Path) -> None:
    from streams.worker import main

    main(["--datadir", str(datadir)])


@pytest.mark.parametrize("entry", ["provider", "smtp", "service", "streams", "load_or_exit"])
def test_entry_points_say_a_bad_setting_in_one_line_and_exit_2(
    entry: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SWITCHYARD_KAFKA__PROPERTIES", "notjson")
    runs: dict[str, Callable[[], object]] = {
        "provider": _provider, "smtp": _smtp, "service": _service, "streams": lambda: _streams(tmp_path),
        "load_or_exit": lambda: load_or_exit(CoreSettings),
    }
    with pytest.raises(SystemExit) as exited:
        runs[entry]()
    assert exited.value.code == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err.startswith("switchyard: error: SWITCHYARD_KAFKA__PROPERTIES: not valid JSON")
    assert out.err.count("\n") == 1
