"""Judges: rubric and diagnosis judges (built-in and LLM), the committee, scoring, agreement and reports.

A stage: may import ``cases``, ``arena.models`` and ``arena.core``; never
``personas``, ``arena.doctors``, ``distill`` or the roof.
"""
