"""Distiller: mistake records and single-shot QA items from judged runs, and dataset export."""
