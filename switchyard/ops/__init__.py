"""Operator tools for a running deployment: dead letters listed and replayed, each once
(``dlq``, `switchyard dlq`); paused invocations found and resumed
(``paused``); the topic table the README and ``switchyard topics`` show
(``topics_table``); the service's metrics per topic (``service_metrics``).

Import rule (docs/architecture.md): ``switchyard.settings`` and the layers below it
(producers, simulators, handlers, streams, schemas, ``switchyard.core``); never the stack
launcher, the fault suite, bench or the CLI, which use these tools.
"""
