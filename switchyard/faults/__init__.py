"""The fault suite (``switchyard faults``): steady load across many keys while a component
crashes, freezes or loses a dependency, then a check that every record got exactly one
outcome, nothing was applied twice, per-key order held and no invocation was left stuck
(``suite``: the scenarios; ``outcomes``: counting outcomes on ``-results``/``-dlq``).

Import rule (docs/architecture.md): the stack launcher and every layer below it; never
``bench`` (a sibling layer) or the CLI, which runs it.
"""
