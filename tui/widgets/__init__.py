"""Widgets of the terminal app, one concern per module."""
