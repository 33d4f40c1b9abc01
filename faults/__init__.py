"""The examples' fault suite (``switchyard faults``): steady load across many keys while a
component crashes, freezes or loses a dependency, then a check that every record got
exactly one outcome, nothing was applied twice, per-key order held and no invocation was
left stuck (``suite``: the scenarios; counting is switchyard/faults/outcomes.py's).

It drives the examples' flows (handlers/app.py), reaching them through their topics and
HTTP paths; ``commands`` adds the command to the CLI (an entry point in pyproject.toml).

Import rule (docs/architecture.md): switchyard and the examples; never ``bench`` (a
sibling) or the CLI's own modules but its base.
"""
