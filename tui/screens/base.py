"""What every screen of a followed run shares: the follower, and catching up when shown."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.screen import Screen

from tui.follow import RunFollower, Update

if TYPE_CHECKING:
    from tui.app import ArenaApp


class RunScreen(Screen[None]):
    """A screen showing part of one run; the app hands it each poll's :class:`Update`.

    Only the screen on top gets updates; one that was hidden catches up from
    the follower's versions when it is shown again.
    """

    def __init__(self, follower: RunFollower, *, name: str | None = None) -> None:
        """Show part of the run ``follower`` follows."""
        super().__init__(name=name)
        self.follower = follower
        self.synced_version = -1
        self.ready = False
        """Set by subclasses once mounted: updates before that are caught up on later."""

    @property
    def arena(self) -> ArenaApp:
        """The app, typed."""
        return cast("ArenaApp", self.app)

    def on_screen_resume(self) -> None:
        """Catch up with what changed while hidden."""
        if self.ready and self.synced_version != self.follower.version:
            self.sync(None)

    def follow(self, update: Update) -> None:
        """Apply one poll's changes (called by the app for the screen on top)."""
        if self.ready:
            self.sync(update)

    def sync(self, update: Update | None) -> None:
        """Redraw what ``update`` changed, or catch up from ``synced_version`` when None.

        Implementations end by setting ``synced_version`` to the follower's version.
        """
        self.synced_version = self.follower.version
