"""The core's configuration, from the environment (prefix ``SWITCHYARD_``, nested with ``__``).

Each layer adds its own sections on top of ``CoreSettings`` (``handlers.settings``,
``streams.settings``, ``switchyard.settings``); every section refuses keys it does not
know, and addresses are checked when they are read, not when they are first used.
``load`` turns a bad value into one line naming the environment variable;
``load_or_exit`` prints that line (``switchyard: error: ...``) and exits 2.
"""

from __future__ import annotations

import json
import os
import re
import sys
import types
from collections.abc import Mapping, Sequence
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn, TypeVar, Union, get_args, get_origin
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings import SettingsError as SourceError

from switchyard.core.errors import UsageProblem

# How often every client (producers, the gate, Restate's subscriptions, the stream worker)
# re-reads topic metadata: a topic grown while running is seen within this, not
# librdkafka's and aiokafka's 5 minutes.
METADATA_REFRESH_MS = 10_000
# A consumer group member's timings (librdkafka property names) and librdkafka's defaults.
SESSION, HEARTBEAT = "session.timeout.ms", "heartbeat.interval.ms"
LIBRDKAFKA_SESSION_MS, LIBRDKAFKA_HEARTBEAT_MS = 45_000, 3_000

ENV_PREFIX = "SWITCHYARD_"
ENV_DELIMITER = "__"
ERROR_PREFIX = "switchyard: error: "  # the CLI's (switchyard/cli/base.py), for every entry point
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})

_NUMBER = re.compile(r"\s*[0-9]+(\.[0-9]*)?\s*")


def _seconds_if_number(value: Any) -> Any:
    """`SWITCHYARD_UPLOADS__SYNC_TIMEOUT=5` means 5 s: pydantic reads a number as seconds
    but a numeric *string* (all an environment variable can be) only as ISO 8601."""
    return float(value) if isinstance(value, str) and _NUMBER.fullmatch(value) else value


def split_host_port(address: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:9092`` for IPv6; ``:9080`` binds every interface) as a pair;
    ValueError says what is wrong."""
    host, sep, port = address.strip().rpartition(":")
    bracketed = host.startswith("[") and host.endswith("]") and len(host) > 1
    if bracketed:
        host = host[1:-1]
    if (not sep or not port.isdigit() or not 0 < int(port) < 65536 or " " in host
            or "[" in host or "]" in host):
        raise ValueError(f"expected host:port, got {address!r}")
    return host, int(port)


def host_port(url: str) -> tuple[str, int]:
    """The host and port of an http(s) URL; the scheme's port when it names none."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http(s)://host[:port] URL, got {url!r}")
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


def _host_port(value: str) -> str:
    split_host_port(value)
    return value


def _host_ports(value: str) -> str:
    for address in value.split(","):
        split_host_port(address)
    return value


def _url(value: str) -> str:
    host_port(value)
    return value.rstrip("/")


def _log_level(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


# A duration: seconds (`5`, `0.5`) or ISO 8601 (`PT5S`, `P1D`).
Duration = Annotated[timedelta, BeforeValidator(_seconds_if_number)]
HostPort = Annotated[str, AfterValidator(_host_port)]
HostPorts = Annotated[str, AfterValidator(_host_ports)]  # a comma-separated list, as Kafka takes it
HttpUrl = Annotated[str, AfterValidator(_url)]
Port = Annotated[int, Field(ge=1, le=65535)]
LogLevel = Annotated[Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], BeforeValidator(_log_level)]


class Section(BaseModel):
    """A settings section: an unknown key is a typo, and is refused."""

    model_config = ConfigDict(extra="forbid")


class KafkaSettings(Section):
    bootstrap_servers: HostPorts = "127.0.0.1:9092"
    cluster_name: str = "my-cluster"
    topic_partitions: int = Field(default=1, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    # Security and other librdkafka properties, passed to every client and to Restate's
    # cluster registration, e.g. SWITCHYARD_KAFKA__PROPERTIES='{"security.protocol": "SASL_SSL"}'.
    properties: dict[str, str] = Field(default_factory=dict)
    # Consumer options of each Restate subscription, applied when it is created. A short
    # session: a crashed restate-server's partitions move in seconds rather than after the
    # 45 s default, and restate-server ends a subscription's consumer on any broker
    # transport failure (a lost broker) and starts a new member, whose join waits for the
    # old one's session: 6 s beat 12 s there (bench/results/levers/group-session.md), 3 s
    # beat 6 s (broker-loss.md). Brokers refuse a session below their
    # group.min.session.timeout.ms (Kafka's default: 6 s; ours: 2 s), so the bootstrap
    # lengthens it to theirs. read_committed: the key gate's transactional mode. A topic
    # grown while running is seen within the metadata refresh (librdkafka's: 5 minutes).
    subscription_options: dict[str, str] = Field(default_factory=lambda: {
        "auto.offset.reset": "earliest", "session.timeout.ms": "3000", "heartbeat.interval.ms": "1000",
        "isolation.level": "read_committed", "topic.metadata.refresh.interval.ms": str(METADATA_REFRESH_MS),
    })
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    # How long the service's result/DLQ producer waits to batch. Each handler awaits its
    # record's acknowledgement, so on one key this wait is paid per record: 0.5 ms instead
    # of librdkafka's 5 ms took a single key from ≈ 68 to ≈ 102 records/s in the benchmark;
    # across many keys batches form anyway (docs/benchmarks.md).
    results_linger: Duration = timedelta(microseconds=500)

    @field_validator("subscription_options")
    @classmethod
    def _group_timings(cls, options: dict[str, str]) -> dict[str, str]:
        """A session and heartbeat librdkafka would refuse (on every restart of Restate's
        consumer, without end) are refused here, by name."""
        for name in (SESSION, HEARTBEAT):
            if name in options and not (options[name].isascii() and options[name].isdigit()
                                        and int(options[name]) > 0):
                raise ValueError(f"{name} must be a whole number of milliseconds above 0, got {options[name]!r}")
        session = int(options.get(SESSION, LIBRDKAFKA_SESSION_MS))
        heartbeat = int(options.get(HEARTBEAT, LIBRDKAFKA_HEARTBEAT_MS))
        if heartbeat >= session:
            raise ValueError(f"{HEARTBEAT} ({heartbeat}) must be below {SESSION} ({session})")
        return options

    def gate_session_timeout(self) -> timedelta:
        """The key gate's consumer group session: far below the 45 s default, so a crashed
        replica's partitions move in seconds, and, where topics are replicated (so a lost
        broker's partitions and group coordinators move to another), longer than that move
        takes: 6-11 s measured on the local cluster. With 6 s there, the gate's group timed
        out whenever its coordinator was on the lost broker, dropped every partition and
        rebalanced (19 s in the trace); a crashed replica's partitions now wait 12 s
        (bench/results/levers/group-session.md). On one broker nothing moves, and 6 s
        brings a crashed process's partitions back sooner."""
        return timedelta(seconds=12 if self.replication_factor > 1 else 6)

    def client_config(self) -> dict[str, str]:
        """librdkafka properties shared by every producer, consumer and admin client."""
        config = {"bootstrap.servers": self.bootstrap_servers, **self.properties}
        if self.sasl_username is not None:
            config["sasl.username"] = self.sasl_username
        if self.sasl_password is not None:
            config["sasl.password"] = self.sasl_password.get_secret_value()
        return config

    @property
    def first_address(self) -> tuple[str, int]:
        return split_host_port(self.bootstrap_servers.split(",")[0])


class RestateSettings(Section):
    admin_url: HttpUrl = "http://127.0.0.1:9070"
    ingress_url: HttpUrl = "http://127.0.0.1:8080"
    # Where restate-server reaches the Python service. Each version is registered under
    # its own path, `<deployment_url>/v/<version>` (switchyard/core/versions.py).
    deployment_url: HttpUrl = "http://127.0.0.1:9080"
    # Development only: register over an existing deployment at the same address (Restate's
    # `force`). In-flight invocations of the old code then replay on the new, and a changed
    # journal fails them ("journal mismatch"); versioned registration never needs it.
    force_register: bool = False


class RetrySettings(Section):
    """How long a Kafka record's transient failures (a bug, an outage) are retried before
    the record goes to its topic's DLQ with the last error: retries end, keys never stall.
    Keep max_attempts below restate.toml's default-retry-policy max-attempts."""

    max_attempts: int = Field(default=8, ge=1)
    initial_interval: Duration = timedelta(milliseconds=200)
    max_interval: Duration = timedelta(seconds=5)
    # Fault drills: records with these keys fail with a simulated outage on every attempt.
    poison_keys: list[str] = Field(default_factory=list)


class GateSettings(Section):
    """The key gate (switchyard/core/gate.py) in front of object and workflow topics."""

    # Off, nothing copies the gated topics to their routed twins and Restate sees none of
    # their records: only for a deployment that runs the gate elsewhere.
    enabled: bool = True
    group_id: str = "switchyard-gate"
    # How a batch's copies are made safe (docs/benchmarks.md, "Levers measured (issue 24)"):
    # "idempotent": an idempotent producer (acks=all, no gap in a partition's copies), and
    #   the source offsets committed only once the batch's copies are acknowledged. A crash
    #   between the two copies the batch again; the sinks' applied marks skip the repeats
    #   (outcomes stay one per record, a gate dead letter may be published twice). No
    #   transaction to commit, so nothing waits for the broker's transaction markers.
    # "transactional": copies, dead letters and offsets in one Kafka transaction per batch:
    #   no repeat ever reaches a routed topic, but each batch's offsets commit waits ~100 ms
    #   (librdkafka's retry backoff while the previous transaction's markers are written).
    mode: Literal["idempotent", "transactional"] = "idempotent"
    # Idempotent mode: acknowledged offsets are committed at most this often (0: after
    # every batch). Later only means more records copied again after a crash, which the
    # applied marks skip; each batch's commit was an OffsetCommit request per few records.
    commit_interval: Duration = timedelta(milliseconds=250)
    # Defaults to one per host and service port (stable across restarts); transactional mode.
    transactional_id: str | None = None
    # Records the gate takes per read, whatever is already fetched (it never waits to fill
    # one). A key's records batch only within one read: with 500, a backlog over 1,000 keys
    # gave 1.8 records per invocation; with 5,000, 4.7, and 2.5x the throughput
    # (docs/benchmarks.md, "Third round").
    max_batch: int = Field(default=5000, ge=1, le=100_000)
    # Up to this many consecutive records of one key (read in one batch) travel as one
    # routed record to an object topic's handler: one invocation, one state load and one
    # result publish for all of them, each record still with its own outcome, in order.
    # 1 = one invocation per record. Workflow topics always go one record at a time.
    # A batch ends where the gate's read ends, so light traffic still goes one by one; a
    # key's backlog goes up to this many at a time (one key alone: ~150 -> ~4,600 rec/s).
    batch_records: int = Field(default=100, ge=1, le=1000)
    # While invocations of the gate's copies start this long after the copy (a backlog in
    # Restate), the gate keeps reading for as long, at most hold_max (0: never), before it
    # copies: a key's records of that time then go as one invocation, where each would
    # have waited in the backlog anyway (switchyard/core/backlog.py).
    hold_above: Duration = timedelta(milliseconds=500)
    hold_max: Duration = Field(default=timedelta(seconds=2), le=timedelta(seconds=10))
    # An open transaction of a crashed or frozen gate blocks its partitions for Restate
    # (read_committed) until the broker aborts it after this long.
    transaction_timeout: Duration = timedelta(seconds=10)
    # The gate's consumer group session; unset, `KafkaSettings.gate_session_timeout`.
    session_timeout: Duration | None = None
    # librdkafka debug contexts for the gate's own consumer and producer (e.g.
    # "cgrp,topic,eos"), written with librdkafka's timestamps to the service's stderr: how
    # a gate's wait after a broker loss is traced. Empty: errors only.
    client_debug: str = ""


class ServiceSettings(Section):
    bind: HostPort = "127.0.0.1:9080"
    workers: int = Field(default=1, ge=1)
    # The HTTP/2 server in front of the handlers. granian (Rust hyper) spends about a third
    # less CPU per record than hypercorn's pure-Python h2 (docs/benchmarks.md); hypercorn
    # stays selectable: SWITCHYARD_SERVICE__SERVER=hypercorn.
    server: Literal["granian", "hypercorn"] = "granian"
    # Restate request-identity public keys (publickeyv1_...): the service refuses any
    # request not signed with one of them.
    identity_keys: list[str] = Field(default_factory=list)
    # Or a directory holding restate-server's signing key (request-identity.pem, made there
    # if missing): its public key is added to identity_keys (docker-compose uses this).
    identity_dir: Path | None = None
    # With no identity key, a service bound off loopback refuses to start: anyone who can
    # reach it could run any handler. This opt-out is for a network you trust alone.
    insecure_accept_unsigned: bool = False
    log_level: LogLevel = "INFO"
    # This build's version, served at /v/<version> and registered as a deployment of its
    # own, so invocations in flight stay on the code they started on. Default: a digest of
    # the app's source files (any code change is a new version).
    version: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]{1,64}$")

    @property
    def address(self) -> tuple[str, int]:
        return split_host_port(self.bind)


class CoreSettings(BaseSettings):
    """What the core needs: Kafka, Restate, the service, the retry budget, the key gate."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter=ENV_DELIMITER, env_file=".env", extra="ignore"
    )

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    restate: RestateSettings = Field(default_factory=RestateSettings)
    service: ServiceSettings = Field(default_factory=ServiceSettings)
    retries: RetrySettings = Field(default_factory=RetrySettings)
    gate: GateSettings = Field(default_factory=GateSettings)

    @cached_property
    def admin_address(self) -> tuple[str, int]:
        return host_port(self.restate.admin_url)

    @cached_property
    def ingress_address(self) -> tuple[str, int]:
        return host_port(self.restate.ingress_url)

    @cached_property
    def kafka_address(self) -> tuple[str, int]:
        return self.kafka.first_address


class SettingsError(UsageProblem):
    """A setting that cannot be used, said in one line naming its environment variable."""


S = TypeVar("S", bound=BaseSettings)


def load(cls: type[S], **overrides: Any) -> S:
    """``cls(**overrides)`` from the environment and the ``.env`` file, or SettingsError
    with one line per bad value. Overrides are deep-merged over them per section: a key
    they set wins, one they do not comes from the environment; ``_env_file=None`` reads no
    ``.env``. A class that declares every section (``owns_all_sections``) also refuses a
    ``SWITCHYARD_*`` variable naming no section, in the environment or in ``.env``."""
    env_files = _env_files(cls, overrides)
    try:
        settings = cls(**overrides)
    except ValidationError as exc:
        raise SettingsError(describe_settings_error(exc)) from None
    except SourceError as exc:
        raise SettingsError(describe_source_error(exc, cls, env_files)) from None
    if getattr(cls, "owns_all_sections", False):
        known = set(cls.model_fields)
        unknown = unknown_sections(os.environ, known)
        for path, values in env_files.items():
            unknown += [f"{name} (in {path})" for name in unknown_sections(values, known)]
        if unknown:
            raise SettingsError(f"{', '.join(unknown)}: no such section (known: {', '.join(sorted(known))})")
    return settings


def load_or_exit(cls: type[S], **overrides: Any) -> S:
    """``load`` for an entry point outside the CLI (the service, the stream worker, the
    simulators): a bad setting prints ``switchyard: error: <one line>``, exit code 2."""
    try:
        return load(cls, **overrides)
    except SettingsError as exc:
        exit_with_error(exc)


def exit_with_error(message: object) -> NoReturn:
    """The CLI's error style (switchyard/cli/base.py): one line on stderr, exit code 2."""
    text = " ".join(str(message).split())
    sys.stderr.write(f"{ERROR_PREFIX}{text}\n")
    raise SystemExit(2)


def _env_files(cls: type[BaseSettings], overrides: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """What pydantic-settings reads as ``.env`` here (``_env_file`` or the class's
    ``env_file``, relative to the working directory): each existing file's variables."""
    from dotenv import dotenv_values

    given = overrides.get("_env_file", cls.model_config.get("env_file"))
    paths = [] if given is None else [given] if isinstance(given, str | os.PathLike) else list(given)
    encoding = overrides.get("_env_file_encoding", cls.model_config.get("env_file_encoding"))
    return {str(path): {k: v for k, v in dotenv_values(path, encoding=encoding).items() if v is not None}
            for path in map(Path, paths) if Path(path).expanduser().is_file()}


# ``SWITCHYARD_*`` variables that are no settings: the app a served process runs
# (switchyard/serving.py) and the stack switchyard.testing's fixture serves it on.
NOT_SETTINGS = frozenset({"SWITCHYARD_APP", "SWITCHYARD_TEST_STACK"})


def unknown_sections(environ: Mapping[str, str | None], sections: set[str]) -> list[str]:
    """The ``SWITCHYARD_*`` variables whose first part names none of ``sections``."""
    return sorted(name for name in environ if name.upper().startswith(ENV_PREFIX)
                  and name.upper() not in NOT_SETTINGS
                  and name[len(ENV_PREFIX):].split(ENV_DELIMITER)[0].lower() not in sections)


_SOURCE_ERROR = re.compile(r'error (?:parsing|getting) value for field "(?P<field>[^"]+)" '
                           r'from source "(?P<source>[^"]+)"')


def describe_source_error(exc: SourceError, cls: type[BaseModel],
                          env_files: Mapping[str, Mapping[str, str]] | None = None) -> str:
    """pydantic-settings' error for a value it could not read (a list, mapping or section
    that is not valid JSON) as one line naming the variables: it names only the field."""
    found = _SOURCE_ERROR.search(str(exc))
    if found is None:
        return f"settings: {exc}"
    field = found["field"]
    environ: Mapping[str, str] = os.environ
    where = ""
    if "DotEnv" in found["source"] and env_files:
        environ = {k: v for values in env_files.values() for k, v in values.items()}
        where = f" (in {', '.join(env_files)})"
    section = env_name((field,))
    named = {name: value for name, value in environ.items()
             if name.upper() == section or name.upper().startswith(section + ENV_DELIMITER)}
    lines = []
    for name, value in sorted(named.items()):
        kind = _json_kind(cls, name.upper()[len(ENV_PREFIX):].lower().split(ENV_DELIMITER), name.upper())
        if kind is None:
            continue
        try:
            json.loads(value)
        except ValueError as err:
            lines.append(f"{name}{where}: not valid JSON ({err}); it takes {kind}")
    if lines:
        return "; ".join(lines)
    names = ", ".join(sorted(named)) or section
    return f"{names}{where}: cannot be read ({exc.__cause__ or exc})"


def _json_kind(cls: type[BaseModel], path: Sequence[str], name: str) -> str | None:
    """What the setting at ``path`` (a field, then keys in it) takes as JSON, if anything:
    pydantic-settings parses lists, mappings and sections from JSON."""
    annotation: Any = cls
    for part in path:
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None  # a key inside a mapping: a plain value
        field = annotation.model_fields.get(part)
        if field is None:
            return None  # refused as unknown once read
        annotation = _without_none(field.annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f'a JSON object of its keys, or set {name}{ENV_DELIMITER}<KEY> one at a time'
    origin = get_origin(annotation) or annotation
    if origin in (dict, Mapping):
        return 'a JSON object, e.g. {"key": "value"}'
    if origin in (list, tuple, set, frozenset, Sequence):
        return 'a JSON list, e.g. ["a", "b"]'
    return None


def _without_none(annotation: Any) -> Any:
    """``X | None`` -> ``X``."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def env_name(loc: tuple[int | str, ...]) -> str:
    return ENV_PREFIX + ENV_DELIMITER.join(str(part).upper() for part in loc)


def describe_settings_error(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        name = env_name(loc)
        if err["type"] == "extra_forbidden":
            lines.append(f"{name}: unknown setting (a typo?)")
        else:
            value = err.get("input")
            shown = "" if isinstance(value, dict | BaseModel) else f"={value!r}"
            lines.append(f"{name}{shown}: {err['msg']}")
    return "; ".join(lines)
