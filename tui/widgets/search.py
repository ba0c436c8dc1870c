"""A search field that stays hidden until asked for."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Input


class SearchBox(Input):
    """An input that shows on :meth:`open` and hides (cleared) on escape."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close", show=False)]

    class Closed(Message):
        """The search box was closed; focus should go back to the content."""

    def __init__(self, placeholder: str = "search…", *, id: str | None = None) -> None:
        """Create a hidden, compact search field."""
        super().__init__(placeholder=placeholder, id=id, compact=True, classes="search")
        self.display = False

    def open(self) -> None:
        """Show the field and focus it."""
        self.display = True
        self.focus()

    def action_close(self) -> None:
        """Clear and hide the field (which clears the search)."""
        self.value = ""
        self.display = False
        self.post_message(self.Closed())
