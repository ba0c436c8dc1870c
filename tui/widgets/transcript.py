"""A consultation's transcript: one widget per turn, appended as turns arrive."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from rich.text import Text
from textual.containers import Vertical, VerticalScroll
from textual.reactive import reactive
from textual.widgets import Static

from arena.core.queries import TurnAt
from arena.core.types import Fact, Turn
from tui.format import ROLE_STYLE

ROLE_LABEL = {"doctor": "DOCTOR", "patient": "PATIENT", "measurement": "RESULT", "case": "CASE"}
"""How each speaker is labelled; the measurement agent gives exam and test results, and ``case`` is
the case handed over in one message (a vignette or a summary)."""

ACTION_BADGE = {
    "exam": ("EXAM", "bold black on magenta"),
    "test": ("TEST", "bold black on magenta"),
    "final": ("FINAL ANSWER", "bold black on cyan"),
}
"""Badge shown beside a doctor turn that is not a plain question."""


def render_turn(turn: Turn, facts: Mapping[str, Fact], search: str = "") -> Text:
    """Render one turn: speaker, what was said, facts revealed, what was synthesized, guard interventions.

    Args:
        turn: The turn.
        facts: The case's facts by id, to spell out revealed facts.
        search: Text to highlight (case-insensitive); empty for none.

    Returns:
        The turn as styled text (the content is never parsed as markup).
    """
    out = Text()
    out.append(f"#{turn.index} ", style="dim")
    out.append(ROLE_LABEL.get(turn.role, turn.role.upper()), style=ROLE_STYLE.get(turn.role, "bold"))
    action = turn.action
    kind = action.kind if action else ""
    if action and kind in ACTION_BADGE:
        label, style = ACTION_BADGE[kind]
        out.append("  ")
        out.append(f" {label} ", style=style)
        request = action.request
        if request and kind in ("exam", "test") and request.strip() != (turn.content or "").strip():
            out.append(f" {request}", style="magenta")
    tokens = turn.usage.prompt_tokens + turn.usage.completion_tokens
    if tokens:
        out.append(f"  {tokens} tok", style="dim")
    out.append("\n")
    body = Text(turn.content or "")
    if search:
        body.highlight_words([search], style="bold black on yellow", case_sensitive=False)
    out.append_text(body)
    parse_error = action.parse_error if action else ""
    if parse_error:
        out.append("\n")
        out.append(" ⚠ unparsed reply ", style="bold black on yellow")
        out.append(f" {parse_error}", style="yellow")
    for fact_id in turn.revealed:
        fact = facts.get(fact_id)
        out.append("\n")
        out.append(" + ", style="bold black on green")
        out.append(f" {fact_id}", style="bold green")
        if fact is not None:
            out.append(f"  {fact.text}", style="green")
    for made in turn.synthesized:
        # Said, but not from the case: the reader must be able to tell a simulated answer from a case fact.
        out.append("\n")
        out.append(" ~ SYNTHESIZED ", style="bold black on yellow")
        out.append(f" {made.topic}", style="bold yellow")
        out.append(f"  {made.rule.value.replace('_', ' ')}", style="yellow")
        if made.source:
            out.append(f"  ({made.source})", style="dim yellow")
    for event in turn.guard:
        out.append("\n")
        out.append(f" ⚠ GUARD {event.action.upper()} ", style="bold white on red")
        out.append(" blocked claim: ", style="red")
        out.append(f"“{event.claim}”", style="bold red")
    return out


class TurnView(Static):
    """One turn of the transcript."""

    def __init__(self, turn: Turn, facts: Mapping[str, Fact]) -> None:
        """Render ``turn`` with ``facts`` to name what it revealed."""
        classes = f"turn -{turn.role}"
        if turn.guard:
            classes += " -guard"
        if turn.revealed:
            classes += " -reveals"
        if turn.synthesized:
            classes += " -synthesized"
        super().__init__(render_turn(turn, facts), classes=classes)
        self.turn = turn
        self.facts = facts
        self.search = ""

    def matches(self, term: str) -> bool:
        """Whether the turn's text contains ``term`` (case-insensitive)."""
        return bool(term) and term.lower() in self.turn.content.lower()

    def set_search(self, term: str) -> bool:
        """Highlight ``term`` in the turn; return whether it occurs."""
        hit = self.matches(term)
        wanted = term if hit else ""
        if wanted != self.search:
            self.search = wanted
            self.update(render_turn(self.turn, self.facts, wanted))
        self.set_class(hit, "-match")
        return hit


class TranscriptView(VerticalScroll):
    """The scrolling body of the consultation screen: turns, then whatever follows them.

    New turns go into an inner container placed first, so widgets mounted after
    it (final answer, verdicts) stay below the turns. While ``following`` is on
    the view is anchored: it keeps its end in sight as turns arrive (scrolling
    away by hand lets go until the end is reached again).
    """

    following: reactive[bool] = reactive(True)

    def __init__(self, *children: Static, id: str | None = None) -> None:
        """Create the view; ``children`` go below the turns."""
        self._turns = Vertical(classes="turns")
        super().__init__(self._turns, *children, id=id)
        self._facts: Mapping[str, Fact] = {}
        self._last_idx = -1
        self._last_seq = 0
        self._search = ""
        self._match = -1

    @property
    def turn_count(self) -> int:
        """Turns shown."""
        return len(self._turns.children)

    @property
    def last_seq(self) -> int:
        """The highest ``seq`` shown (0 when empty)."""
        return self._last_seq

    def set_facts(self, facts: Mapping[str, Fact]) -> None:
        """Name the case's facts so revealed fact ids can be spelled out."""
        self._facts = facts

    def add_turns(self, turns: Iterable[TurnAt]) -> int:
        """Append the turns not shown yet (by index); return how many were added."""
        fresh = []
        for seq, t in sorted(turns, key=lambda st: st.turn.index):
            if t.index > self._last_idx:
                fresh.append(TurnView(t, self._facts))
                self._last_idx = t.index
                self._last_seq = max(self._last_seq, seq)
        if not fresh:
            return 0
        if self._search:
            for v in fresh:
                v.set_search(self._search)
        self._turns.mount_all(fresh)
        return len(fresh)

    def clear_turns(self) -> None:
        """Remove every turn (before a replay)."""
        self._turns.remove_children()
        self._last_idx = -1
        self._last_seq = 0

    def on_mount(self) -> None:
        """Start anchored to the end if following."""
        self.anchor(self.following)

    def watch_following(self, following: bool) -> None:
        """Anchor to the end while following (the view then stays at the newest turn)."""
        if self.is_mounted:
            self.anchor(following)

    def search(self, term: str) -> int:
        """Highlight ``term`` in every turn and scroll to the first match.

        Returns:
            How many turns match.
        """
        self._search = term
        self._match = -1
        hits = [v.set_search(term) for v in self._turns.query(TurnView)]
        n = sum(hits)
        if n:
            self.next_match()
        return n

    def next_match(self) -> bool:
        """Scroll to the next turn that matches the search (wrapping); False if none."""
        matches = [v for v in self._turns.query(TurnView) if v.has_class("-match")]
        if not matches:
            return False
        self._match = (self._match + 1) % len(matches)
        self.following = False
        self.scroll_to_widget(matches[self._match], animate=False, top=True)
        return True
