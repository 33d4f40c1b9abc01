"""The `switchyard` command: `main.py` has the parser tree, one module per group of
commands (stack, records, pipeline, dlq, load, bench, faults) adds its subcommands and
imports what they need only when they run.

Import rule (docs/architecture.md): the top layer; it may import every other package,
and none imports it."""
