"""Local stand-ins for the outside world, for the dev stack and the tests, each run as its
own process: the payment provider's HTTP API with signed webhooks (``provider``) and an
SMTP sink writing a Maildir (``smtp``). The stack starts them
(switchyard/stack/simulators.py), docker-compose.yml runs them as services.

Import rule (docs/architecture.md): the handlers' settings (the sections they stand in
for, ``handlers.settings``), ``schemas`` and ``switchyard.core``; nothing above them.
"""
