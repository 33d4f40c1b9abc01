"""The examples' traffic at the Kafka and HTTP edges: typed producers per flow (``posts``,
``packages``), records from arguments, files and generators (``records``), Kafka's
console producer (``console``), the load generator (``load``), typed clients of Restate's
HTTP ingress (``reservations``, ``tasks``, ``uploads``) and the demo scenes (``demos/``).

Import rule (docs/architecture.md): the simulators, handlers, streams, schemas and
``switchyard.core`` (the layers below); never ``switchyard.settings`` or anything above.
"""
