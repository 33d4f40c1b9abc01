"""What a fault drill of any app counts with: outcomes on ``-results``/``-dlq`` per source
record (``outcomes``) and generated foreign records (``generated``). The examples' fault
suite (``switchyard faults``, faults/suite.py) is built on them.

Import rule (docs/architecture.md): the stack launcher and every layer below it; never
the CLI.
"""
