"""Screens of the terminal app: runs, dashboard, consultations, one consultation, mistakes, QA.

They read through ``tui.follow`` and the store; widgets come from ``tui.widgets``.
"""
