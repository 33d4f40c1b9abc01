"""The examples' Restate services, objects and workflows, one module per flow
(``handlers/<noun>.py``, each feeding its topic through ``switchyard.core.sink``), their
settings (``handlers.settings``), and ``app.py``: the one ``restate.app`` the service
serves (``create_app``), with the key gate for the examples' catalogue.

Import rule (docs/architecture.md): ``schemas`` and ``switchyard.core`` (and restate);
never ``streams`` (an independent sibling), ``producers`` or any layer above.
"""
