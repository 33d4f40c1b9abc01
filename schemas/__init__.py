"""The examples' payload models, one module per flow (``schemas/<noun>.py``, strict and
closed: ``schemas.base.Payload``), and their topic declarations (``schemas.catalogue``:
``CATALOGUE``, ``TOPICS``, ``topic(name)``), the one place the examples' topics are named.

Import rule (docs/architecture.md): pydantic and ``switchyard.core`` only (the catalogue's
types live in ``switchyard.core.catalogue``); every layer above may import this one.
"""
