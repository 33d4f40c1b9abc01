"""``switchyard.App``: a flow of your own, declared once per handler.

::

    app = switchyard.App("greeter")

    @app.object("greetings", key="person")
    async def greet(ctx: restate.ObjectContext, greeting: Greeting) -> Greeted: ...

Each kind's decorator (``object``, ``workflow``, ``service``) takes the topic's name and
what its record key means; the value model comes from the handler's second parameter's
annotation, the Restate service's name from the app (``"greeter"`` -> ``Greeter``) and
the handler's from the function. From that one line the app makes the catalogue entry
(``app.catalogue()``), the Restate service and the sink wrapper (``app.build(runtime)``),
so a topic's kind and its handler's cannot disagree: a context annotation of another kind
(an ``ObjectContext`` on a plain service) is refused where the handler is declared.
Handlers fed by no topic (queries, RPC entry points, ingress-private helpers) attach to
the same services with ``app.handler``.

``switchyard run pkg.module:app`` serves it (switchyard/serving.py) and bootstraps its
topics; ``switchyard.testing`` runs it in-process (``Harness``) or on a private stack.

The lower layer stays open: ``app.include(topics, build)`` adds catalogue entries and a
builder of ready-made Restate services (``Topic`` and ``sink_handler``), which is how the
examples' app (handlers/app.py) is declared. An app also names what the tools need of
it: its settings class (``settings=``: extra ``SWITCHYARD_*`` sections), its stream
worker module (``streams=``) and further packages whose code is part of its version (``version_packages=``).

Import rule: the core only (docs/architecture.md).
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import sys
import typing
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import restate
from pydantic import BaseModel
from restate.handler import RESTATE_UNIQUE_HANDLER_SYMBOL, Handler
from restate.serde import PydanticJsonSerde

from switchyard.core.catalogue import INGEST_SUFFIX, ROUTED_SUFFIX, Catalogue, ServiceKind, StreamTopic, Topic
from switchyard.core.settings import CoreSettings
from switchyard.core.sink import SinkRuntime, ingest_object, sink_handler

ServiceDef = restate.Service | restate.VirtualObject | restate.Workflow
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])
HandlerKind = Literal["exclusive", "shared", "workflow"]

# The context a topic's handler takes, per kind: what Restate hands it.
SINK_CONTEXT: dict[ServiceKind, type] = {
    "object": restate.ObjectContext,
    "workflow": restate.WorkflowContext,
    "service": restate.Context,
}
# A plain handler's context says its service's kind and its own.
PLAIN_CONTEXT: dict[type, tuple[ServiceKind, HandlerKind | None]] = {
    restate.Context: ("service", None),
    restate.ObjectContext: ("object", "exclusive"),
    restate.ObjectSharedContext: ("object", "shared"),
    restate.WorkflowContext: ("workflow", "workflow"),
    restate.WorkflowSharedContext: ("workflow", "shared"),
}
KIND_NAMES: dict[ServiceKind, str] = {"object": "virtual object", "workflow": "workflow", "service": "plain service"}
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,99}")


class AppError(TypeError):
    """A declaration the app refuses: said where it is made, naming the handler."""


def service_name(app_name: str) -> str:
    """The Restate service an app's handlers default to: ``greeter`` -> ``Greeter``,
    ``order-flow`` -> ``OrderFlow``."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_.\s]+", app_name) if part)


@dataclass(frozen=True)
class SinkDecl:
    topic: Topic
    fn: Callable[..., Awaitable[Any]]
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PlainDecl:
    service: str
    name: str
    kind: HandlerKind | None
    fn: Callable[..., Awaitable[Any]]
    options: dict[str, Any] = field(default_factory=dict)


# Ready-made Restate services for the lower layer: built from the app's settings and the
# sink runtime (``app.include``).
Builder = Callable[[Any, SinkRuntime], list[ServiceDef]]


@dataclass(frozen=True)
class Included:
    topics: tuple[Topic, ...]
    stream_topics: tuple[StreamTopic, ...]
    build: Builder


class App:
    """A deployment's handlers, topics and services, declared with decorators.

    ``name`` names the app: its default Restate service (``service``: another name), its
    key gate's consumer group (``<name>-gate``) and transactional id; the environment's
    ``SWITCHYARD_GATE__*`` variables still win. ``settings``: the settings class its
    handlers read (a ``CoreSettings`` subclass with the app's own sections); ``streams``:
    the module of its stream worker (run with ``python -m``), if it has one;
    ``version_packages``: more packages whose code is part of the app's version, beside
    the one it is declared in.
    """

    def __init__(self, name: str, *, service: str | None = None, settings: type[CoreSettings] = CoreSettings,
                 streams: str | None = None, version_packages: Sequence[str] = ()) -> None:
        if not NAME.fullmatch(name):
            raise AppError(f"App({name!r}): a name is a letter, then letters, digits, '-', '_' or '.'")
        if not (isinstance(settings, type) and issubclass(settings, CoreSettings)):
            raise AppError(f"App({name!r}): settings= takes a subclass of switchyard's CoreSettings")
        self.name = name
        self.service_name = service or service_name(name)
        caller = sys._getframe(1).f_globals.get("__name__", "__main__")
        self.module: str = str(caller)  # where the app is declared: its code is the app's version
        self.settings = settings
        self.streams = streams
        self.version_packages = tuple(version_packages)
        self._kinds: dict[str, tuple[ServiceKind, str]] = {}  # service -> its kind, and who said so
        self._sinks: list[SinkDecl] = []
        self._plain: list[PlainDecl] = []
        self._names: set[tuple[str, str]] = set()
        self._included: list[Included] = []

    def __repr__(self) -> str:
        return f"App({self.name!r}: {', '.join(self.targets()) or 'no handlers'})"

    # -- what the app has -----------------------------------------------------------------------

    @property
    def gate_group(self) -> str:
        """The key gate's consumer group unless ``SWITCHYARD_GATE__GROUP_ID`` says otherwise."""
        return f"{self.name}-gate"

    def gate_transactional_id(self, host: str, port: int | str) -> str:
        """The key gate's transactional id unless ``SWITCHYARD_GATE__TRANSACTIONAL_ID`` says
        otherwise: one per app, host and service port (two replicas must not fence each other)."""
        return f"{self.name}-gate-{host}-{port}"

    def catalogue(self) -> Catalogue:
        """The app's topics: one per topic decorator, in declaration order, then the included ones."""
        included = [t for inc in self._included for t in inc.topics]
        streams = tuple(s for inc in self._included for s in inc.stream_topics)
        return Catalogue((*(s.topic for s in self._sinks), *included), streams)

    def topic(self, name: str) -> Topic:
        return self.catalogue().topic(name)

    def targets(self) -> list[str]:
        """Every handler the app declares, ``Service/handler`` (included services' handlers
        are known once built: ``build``)."""
        return [s.topic.target for s in self._sinks] + [f"{p.service}/{p.name}" for p in self._plain]

    # -- the lower layer --------------------------------------------------------------------------

    def include(self, topics: Iterable[Topic], build: Builder, *, stream_topics: Iterable[StreamTopic] = ()) -> None:
        """Ready-made catalogue entries and the services that serve them: ``build(settings,
        runtime)`` returns Restate services whose sink handlers ``sink_handler`` made."""
        entries, streams = tuple(topics), tuple(stream_topics)
        Catalogue((*self.catalogue().topics, *entries), (*self.catalogue().stream_topics, *streams))  # no twice
        self._included.append(Included(entries, streams, build))

    def kind_of(self, service: str) -> ServiceKind:
        try:
            return self._kinds[service][0]
        except KeyError:
            raise KeyError(f"{self.name} has no service {service!r}; it has: {', '.join(self._kinds)}") from None

    # -- topic handlers ---------------------------------------------------------------------------

    def object(self, topic: str, *, key: str, service: str | None = None, summary: str | None = None,
               **options: Any) -> Callable[[F], F]:
        """``fn(ctx: restate.ObjectContext, value: Model)``: one virtual object per record
        key, a key's records one at a time, in order (through the key gate)."""
        return self._sink("object", topic, key, service, summary, options)

    def workflow(self, topic: str, *, key: str, service: str | None = None, summary: str | None = None,
                 **options: Any) -> Callable[[F], F]:
        """``fn(ctx: restate.WorkflowContext, value: Model)``: the workflow's ``run``, once
        per record key (a second record of a key gets a 409 outcome)."""
        return self._sink("workflow", topic, key, service, summary, options)

    def service(self, topic: str, *, key: str, service: str | None = None, summary: str | None = None,
                **options: Any) -> Callable[[F], F]:
        """``fn(ctx: restate.Context, value: Model)``: no key-bound state; the record key
        is the call's idempotency key (a record produced twice runs once)."""
        return self._sink("service", topic, key, service, summary, options)

    def _sink(self, kind: ServiceKind, topic: str, key: str, service: str | None, summary: str | None,
              options: dict[str, Any]) -> Callable[[F], F]:
        locals_ = sys._getframe(2).f_locals  # the declaring scope, for annotations of local names
        target_service = service or self.service_name

        def decorate(fn: F) -> F:
            where = f"@app.{kind}({topic!r}) on {getattr(fn, '__qualname__', fn)!r}"
            if not topic or topic.endswith(ROUTED_SUFFIX) or not re.fullmatch(r"[A-Za-z0-9._-]+", topic):
                raise AppError(f"{where}: {topic!r} is no input topic name (letters, digits, '.', '_', '-'; "
                               f"not ending in {ROUTED_SUFFIX!r})")
            if any(s.topic.name == topic for s in self._sinks):
                raise AppError(f"{where}: topic {topic!r} already feeds {self.topic(topic).target}")
            params, hints = _signature(fn, where, locals_)
            if len(params) != 2:
                raise AppError(f"{where}: a topic's handler takes (ctx, value), not ({', '.join(params)})")
            expected = SINK_CONTEXT[kind]
            context = hints.get(params[0])
            if context is not None and context is not expected:
                raise AppError(f"{where}: a {KIND_NAMES[kind]}'s handler takes restate.{expected.__name__}, not "
                               f"{_name(context)}")
            model = hints.get(params[1])
            if not (isinstance(model, type) and issubclass(model, BaseModel)):
                raise AppError(f"{where}: annotate the value parameter {params[1]!r} with a pydantic model "
                               f"(the topic's value schema); got {_name(model) if model is not None else 'nothing'}")
            handler = fn.__name__
            self._claim(target_service, kind, handler, where)
            if kind == "workflow" and any(p.service == target_service and p.kind == "workflow" for p in self._plain):
                raise AppError(f"{where}: {target_service} already has its run handler")
            if target_service.endswith(INGEST_SUFFIX):
                raise AppError(f"{where}: a service name ending in {INGEST_SUFFIX!r} is the ingest object's")
            doc = inspect.getdoc(fn)
            entry = Topic(name=topic, key=key, value=model, service=target_service, handler=handler, kind=kind,
                          summary=summary or (doc.splitlines()[0] if doc else f"{KIND_NAMES[kind]} {target_service}"))
            self._sinks.append(SinkDecl(entry, fn, dict(options)))
            return fn

        return decorate

    # -- plain handlers ---------------------------------------------------------------------------

    def handler(self, service: str | None = None, *, name: str | None = None, kind: Literal["exclusive", "shared"]
                | None = None, private: bool = False, **options: Any) -> Callable[[F], F]:
        """A Restate handler no topic feeds (a query, an RPC entry point, a helper), on
        ``service`` (default: the app's). Its context annotation says the service's kind
        (``ObjectSharedContext``: a shared handler of a virtual object); ``private``: only
        other handlers may call it (Restate's ``ingress_private``). ``options`` go to the
        SDK's decorator; the SDK (de)serializes its arguments from their annotations."""
        locals_ = sys._getframe(1).f_locals
        target_service = service or self.service_name

        def decorate(fn: F) -> F:
            handler_name = name or fn.__name__
            where = f"@app.handler on {getattr(fn, '__qualname__', fn)!r}"
            params, hints = _signature(fn, where, locals_)
            if not 1 <= len(params) <= 2:
                raise AppError(f"{where}: a handler takes (ctx) or (ctx, request), not ({', '.join(params)})")
            context = hints.get(params[0])
            handler_kind: HandlerKind | None = kind
            if context is not None:
                if context not in PLAIN_CONTEXT:
                    raise AppError(f"{where}: the first parameter is the context: restate.Context, "
                                   f"ObjectContext, ObjectSharedContext, WorkflowContext or WorkflowSharedContext, "
                                   f"not {_name(context)}")
                service_kind, implied = PLAIN_CONTEXT[context]
                if kind is not None and implied not in (None, kind):
                    raise AppError(f"{where}: kind={kind!r} but its context is {_name(context)}")
                handler_kind = handler_kind or implied
            elif target_service in self._kinds:
                service_kind = self._kinds[target_service][0]
                handler_kind = handler_kind or {"object": "exclusive", "workflow": "shared", "service": None}[
                    service_kind]
            else:
                raise AppError(f"{where}: annotate the context (restate.Context, ObjectContext, ...): it says "
                               f"what kind of service {target_service} is")
            if service_kind == "service" and handler_kind is not None:
                raise AppError(f"{where}: a plain service's handlers have no kind ({handler_kind!r})")
            self._claim(target_service, service_kind, handler_name, where)
            if handler_kind == "workflow" and (any(s.topic.service == target_service for s in self._sinks)
                                               or any(p.service == target_service and p.kind == "workflow"
                                                      for p in self._plain)):
                raise AppError(f"{where}: {target_service} already has its run handler")
            if private:
                options["ingress_private"] = True
            self._plain.append(PlainDecl(target_service, handler_name, handler_kind, fn, dict(options)))
            return fn

        return decorate

    def _claim(self, service: str, kind: ServiceKind, handler: str, where: str) -> None:
        """``service`` is of ``kind`` from now on, and ``handler`` one of its handlers; a
        second kind or a second handler of one name is refused."""
        known = self._kinds.get(service)
        if known is not None and known[0] != kind:
            suggestion = f"{service}{kind.capitalize()}" if kind != "object" else f"{service}Object"
            raise AppError(f"{where}: {service} is a {KIND_NAMES[known[0]]} ({known[1]}); a {KIND_NAMES[kind]} "
                           f"needs a service of its own, e.g. service={suggestion!r}")
        if (service, handler) in self._names:
            raise AppError(f"{where}: {service}/{handler} is declared twice")
        self._kinds.setdefault(service, (kind, f"{service}/{handler}"))
        self._names.add((service, handler))

    # -- the Restate services ---------------------------------------------------------------------

    def build(self, runtime: SinkRuntime, settings: CoreSettings | None = None) -> list[ServiceDef]:
        """The app's Restate services, its sink handlers registered with ``runtime`` (a
        workflow topic's ingest object included); fresh objects on every call. ``settings``
        (default: the app's settings class from the environment) go to included builders."""
        made: dict[str, ServiceDef] = {}
        fronts: list[ServiceDef] = []

        def service_def(name: str) -> Any:
            if name not in made:
                kind = self._kinds[name][0]
                made[name] = (restate.VirtualObject(name) if kind == "object" else restate.Workflow(name)
                              if kind == "workflow" else restate.Service(name))
            return made[name]

        for sink in self._sinks:
            topic, target = sink.topic, service_def(sink.topic.service)
            if topic.kind == "workflow":
                front = ingest_object(topic)
                fronts.append(front)
                sink_handler(target.main, topic, runtime, front=front.handler, **sink.options)(sink.fn)
            else:
                sink_handler(target.handler, topic, runtime, **sink.options)(sink.fn)
            # Called from another handler (ctx.object_call(greet, key, Greeting(...))), it
            # takes the model: the sink's own input is the record's raw bytes.
            registered: Handler[Any, Any] = target.handlers[topic.handler]
            io = dataclasses.replace(registered.handler_io, input_serde=PydanticJsonSerde(topic.value))  # type: ignore[no-untyped-call]
            _callable_as(sink.fn, dataclasses.replace(registered, handler_io=io))
        for plain in self._plain:
            target = service_def(plain.service)
            if plain.kind == "workflow":
                target.main(name=plain.name, **plain.options)(plain.fn)
            elif isinstance(target, restate.VirtualObject):
                target.handler(name=plain.name, kind=plain.kind, **plain.options)(plain.fn)
            else:
                target.handler(name=plain.name, **plain.options)(plain.fn)
            _callable_as(plain.fn, target.handlers[plain.name])
        built: list[ServiceDef] = [*made.values(), *fronts]
        if self._included:
            if settings is None:
                from switchyard.core.settings import load

                settings = load(self.settings)
            for inc in self._included:
                built.extend(inc.build(settings, runtime))
        return built


def _callable_as(fn: Callable[..., Any], handler: Handler[Any, Any]) -> None:
    """The decorated function names its Restate handler, as the SDK's own decorators'
    return values do: ``ctx.service_call(fn, ...)`` and the other typed calls take it."""
    vars(fn)[RESTATE_UNIQUE_HANDLER_SYMBOL] = handler


def _signature(fn: Callable[..., Any], where: str, locals_: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    if not inspect.iscoroutinefunction(fn):
        raise AppError(f"{where}: a handler is an `async def`")
    params = [p.name for p in inspect.signature(fn).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    try:
        hints = typing.get_type_hints(fn, localns=locals_)
    except NameError as exc:
        raise AppError(f"{where}: an annotation cannot be resolved ({exc}); declare its type at module level") \
            from None
    return params, hints


def _name(annotation: Any) -> str:
    module = getattr(annotation, "__module__", "")
    qualname = getattr(annotation, "__qualname__", repr(annotation))
    return f"restate.{qualname}" if module.startswith("restate") else qualname
