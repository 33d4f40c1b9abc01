"""The systems Switchyard is measured against, each run as its own process: a raw
confluent-kafka loop (``raw_loop``) and a Faust agent (``faust_peer``), doing the same
per-key update (``work``); ``launch`` starts them beside the stack's components.

Import rule: part of the ``bench`` layer; the peers themselves import nothing of
Switchyard but ``work`` (they run without it), ``launch`` uses the stack's process helpers.
"""
