"""The dev-stack launcher behind ``switchyard up`` and the integration fixture: Kafka
(KRaft, native or a container), restate-server, the simulators, the service, the
bootstrap and the stream workers, started as small steps in order (``stack.Stack``) and
stopped in reverse; ``ephemeral`` gives a private stack on free ports. ``paths`` says
where the fetched tools live (a checkout's ``.stack/`` and ``node_modules``) and finds
the service's ``hypercorn.toml``, which ships in this package.

Import rule (docs/architecture.md): ``switchyard.ops``, ``switchyard.settings`` and every
layer below; never the fault suite, bench or the CLI, which drive it.
"""
