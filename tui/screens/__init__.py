"""Screens of the terminal app: runs, dashboard, consultations, one consultation, mistakes, QA."""
