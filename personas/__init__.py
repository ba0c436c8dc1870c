"""Patients: personas, fact-bounded patient policies, the measurement agent, the guard, the leak check, matchers.

A stage: may import ``cases``, ``arena.models`` and ``arena.core``; never
``judges``, ``arena.doctors``, ``distill`` or the roof.
"""
