"""Distiller: mistake records from judged runs, de-duplication, single-shot QA items, dataset export.

The top stage: may import ``judges`` and ``arena.doctors`` (it reads verdicts
and replays doctors), ``cases``, ``arena.models`` and ``arena.core``; never
the roof.
"""
