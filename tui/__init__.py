"""The terminal app (``arena watch``): it reads the store, never the engine.

Sits in the roof beside the pipeline: may import the stages (for the
committee's verdict rules), ``cases`` and the core; only ``arena.cli``
imports it.
"""
