"""The core: what every other package builds on, and all a flow of your own needs.

* ``settings`` — ``CoreSettings`` (Kafka, Restate, the service, the retry budget, the key
  gate; from ``SWITCHYARD_*`` variables) and ``load`` (one line per bad value);
* ``catalogue`` — ``Topic`` (one input topic: key, value model, sink handler, kind; the
  names of its ``-results``, ``-dlq`` and ``-routed`` companions) and ``Catalogue``;
* ``kafka`` — ``RecordProducer`` (commands, tests) and ``AsyncProducer`` (handlers); both
  refuse a key Restate could not decode;
* ``sink`` — ``sink_handler`` (registers ``fn(ctx, model)`` as a topic's Kafka sink:
  validation, DLQ, results, retry budget, dedup) with its ``SinkRuntime``, and
  ``body_handler`` for HTTP-only handlers;
* ``gate`` — ``start_gate``: the key gate copying object and workflow topics to
  ``<topic>-routed`` and dead-lettering records whose key cannot be an object key;
* ``bootstrap`` — ``bootstrap(settings, catalogue)``: topics, Kafka cluster, deployment,
  subscriptions; idempotent;
* ``admin`` — ``RestateAdmin``, a small client of Restate's admin API;
* ``results`` — ``TopicReader``: reads ``-results`` and ``-dlq`` from a mark on;
* ``envelope`` — the shapes of result records, dead-letter headers and routed records;
* and small helpers: logs, serde, request identity, metrics, polling, text tables, and
  ``UsageProblem``, the base of usage errors (``errors``).

Import rule: the bottom layer (docs/architecture.md). It imports the standard library and
third-party packages only, nothing of ``schemas``, ``handlers``, ``streams``,
``producers``, ``bench`` or the rest of ``switchyard`` (import-linter, ``make lint``).

Import the names from their modules (``from switchyard.core.sink import sink_handler``):
this package re-exports nothing, so a light import such as ``switchyard.core.settings``
never loads restate and confluent-kafka with the sink (docs/your-first-flow.md).
"""
