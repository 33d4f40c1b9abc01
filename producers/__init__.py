"""The examples' traffic at the Kafka and HTTP edges: typed producers per flow (``posts``,
``packages``), records validated and sent (``records``), Switchyard's validating line
reader behind `switchyard produce --file` (``console``), the load generator and the topics'
sample records (``load``), typed clients of Restate's HTTP ingress (``reservations``,
``tasks``, ``uploads``) and the demo scenes (``demos/``).

Import rule (docs/architecture.md): the simulators, handlers, streams, schemas and
``switchyard.core`` (the layers below); never ``switchyard.settings`` or anything above.
"""
