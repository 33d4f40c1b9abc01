"""Stream workers (Faust): windowed traffic and outcome views, the deposit velocity
monitor and the pipeline page, run by ``python -m streams.worker`` with their own
settings (``streams.settings``). They meet the handlers only through catalogue topics.

Import rule (docs/architecture.md): ``schemas`` and ``switchyard.core``; never
``handlers`` (an independent sibling), ``producers`` or any layer above.
"""
