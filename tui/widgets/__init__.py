"""Widgets of the terminal app, one concern per module; they show core records and import no screen."""
