"""One consultation: the transcript as it streams, the outcome, the rubric verdicts."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.timer import Timer
from textual.widgets import Footer, Input, Static

from arena.core.queries import ConsultationRecord, TurnAt
from arena.core.types import Case, Fact, FinalAnswer
from tui import format as fmt
from tui.follow import RunFollower, Update
from tui.rubric import ConsultationVerdicts, group_verdicts
from tui.screens.base import RunScreen
from tui.widgets.final import FinalAnswerView
from tui.widgets.search import SearchBox
from tui.widgets.transcript import TranscriptView
from tui.widgets.verdicts import VerdictsView

REPLAY_STEP_S = 0.25
"""Seconds between turns when replaying a transcript."""


class ConsultationScreen(RunScreen):
    """The transcript of one consultation, following it while it runs."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("p", "toggle_follow", "Pause"),
        Binding("slash", "search", "Search"),
        Binding("n", "next_match", "Next", show=False),
        Binding("v", "verdicts", "Verdicts"),
        Binding("R", "replay", "Replay", show=False),
        Binding("home", "top", "Top", show=False),
        Binding("end", "bottom", "End", show=False),
    ]

    def __init__(self, follower: RunFollower, consultation_id: str) -> None:
        """Show ``consultation_id`` of the run ``follower`` follows."""
        super().__init__(follower)
        self.consultation_id = consultation_id
        self.rec: ConsultationRecord | None = None
        self.case: Case | None = None
        self.final: FinalAnswer | None = None
        self.verdicts: ConsultationVerdicts | None = None
        self._verdict_count = -1
        self._replay: list[TurnAt] = []
        self._replay_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        """Title lines, search, then the scrolling transcript, outcome and verdicts."""
        yield Static(id="c-title")
        yield SearchBox("search the transcript…", id="search")
        yield TranscriptView(FinalAnswerView(id="final"), VerdictsView(id="verdicts"), id="transcript")
        yield Footer(compact=True, show_command_palette=False)

    @property
    def transcript(self) -> TranscriptView:
        """The scrolling body."""
        return self.query_one(TranscriptView)

    def on_mount(self) -> None:
        """Read the consultation, its case and the turns so far."""
        store = self.arena.store
        self.rec = store.get_consultation(self.consultation_id)
        if self.rec is not None:
            self.case = store.case(self.rec.run_id, self.rec.case_id)
        facts: dict[str, Fact] = {f.id: f for f in self.case.facts} if self.case else {}
        view = self.transcript
        # A finished consultation opens at its first turn; a live one follows its newest.
        view.following = self.rec is not None and self.rec.status == "running"
        view.set_facts(facts)
        view.add_turns(store.turns_since(self.follower.run_id, 0, consultation_id=self.consultation_id))
        self._load_outcome()
        self._title()
        view.focus()
        self.synced_version = self.follower.version
        self.ready = True

    # ------------------------------------------------------------------ loading

    def _load_outcome(self) -> None:
        store = self.arena.store
        if self.rec is not None and self.rec.status != "running":
            self.final = store.final_answer(self.consultation_id)
            n = store.verdict_count(self.consultation_id)
            if n != self._verdict_count:
                self._verdict_count = n
                self.verdicts = None
                if n:
                    verdicts = store.verdicts(self.rec.run_id, self.consultation_id)
                    self.verdicts = group_verdicts(verdicts, self.case)
                self.query_one(VerdictsView).show(self.verdicts)
        view = self.follower.views.get(self.consultation_id)
        truth = self.case.diagnosis.name if self.case else ""
        self.query_one(FinalAnswerView).show(self.rec, self.final, truth, view.score if view else None)

    def _title(self) -> None:
        rec, case = self.rec, self.case
        out = Text(no_wrap=True, overflow="ellipsis")
        if rec is None:
            out.append(f"no consultation {self.consultation_id!r}", style="bold red")
            self.query_one("#c-title", Static).update(out, layout=False)
            return
        out.append(fmt.short_id(rec.id, rec.run_id), style="bold")
        out.append("  ")
        out.append(fmt.status(rec.status))
        out.append(f"  {self.transcript.turn_count} turns", style="dim")
        view = self.follower.views.get(rec.id)
        if view is not None and view.score is not None:
            out.append(f"  score {view.score.overall:.2f}", style="bold")
        if rec.status == "running" or self._replay:
            following = self.transcript.following
            out.append("  ")
            out.append("● following" if following else "‖ paused", style="green" if following else "yellow")
        out.append("\n")
        out.append(rec.doctor, style="cyan")
        out.append(f" · {rec.persona}", style="green")
        if case is not None:
            out.append(f" · {case.title or case.id}")
            out.append(f" · {case.organ_system or '—'}, {case.difficulty}", style="dim")
        self.query_one("#c-title", Static).update(out, layout=False)

    def sync(self, update: Update | None) -> None:
        """Append new turns of this consultation; reload the outcome when it ends or is judged."""
        view = self.transcript
        if update is not None and not self._replay:
            mine = [t for t in update.turns if t.turn.consultation_id == self.consultation_id and t.seq > view.last_seq]
            if mine:
                view.add_turns(mine)
        elif update is None and not self._replay:
            # Hidden for a while (another screen was pushed): read what was missed.
            view.add_turns(
                self.arena.store.turns_since(self.follower.run_id, view.last_seq, consultation_id=self.consultation_id)
            )
        followed = self.follower.views.get(self.consultation_id)
        ended = followed is not None and self.rec is not None and followed.rec.status != self.rec.status
        if followed is not None:
            self.rec = followed.rec
        if ended or update is None or (update.scores_changed and self.rec is not None):
            self._load_outcome()
        self._title()
        self.synced_version = self.follower.version

    # ------------------------------------------------------------------ actions

    def action_back(self) -> None:
        """Go back to where the consultation was opened from."""
        self.dismiss(None)

    def action_toggle_follow(self) -> None:
        """Pause or resume auto-scrolling to the newest turn."""
        view = self.transcript
        view.following = not view.following
        self._title()

    def action_search(self) -> None:
        """Show the search box."""
        self.query_one(SearchBox).open()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Highlight the words searched and jump to the first turn that has them."""
        n = self.transcript.search(event.value.strip())
        self.notify(f"{n} turn(s) match" if event.value.strip() else "search cleared", timeout=2)
        self.transcript.focus()

    def on_search_box_closed(self, _event: SearchBox.Closed) -> None:
        """Clear the highlights."""
        self.transcript.search("")
        self.transcript.focus()

    def action_next_match(self) -> None:
        """Jump to the next turn that matches the search."""
        self.transcript.next_match()

    def action_verdicts(self) -> None:
        """Scroll to the rubric verdicts (pauses following)."""
        view = self.transcript
        view.following = False
        view.scroll_to_widget(self.query_one(VerdictsView), animate=False, top=True)
        self._title()

    def action_top(self) -> None:
        """Scroll to the first turn (pauses following)."""
        self.transcript.following = False
        self.transcript.scroll_home(animate=False)
        self._title()

    def action_bottom(self) -> None:
        """Scroll to the end and follow again."""
        self.transcript.following = True
        self._title()

    def action_replay(self) -> None:
        """Replay the transcript turn by turn, as it was played."""
        turns = self.arena.store.turns_since(self.follower.run_id, 0, consultation_id=self.consultation_id)
        if not turns:
            return
        view = self.transcript
        view.clear_turns()
        view.following = True
        self._replay = turns
        if self._replay_timer is not None:
            self._replay_timer.stop()
        # No ``repeat=``: a timer that falls behind skips ticks and counts them.
        self._replay_timer = self.set_interval(REPLAY_STEP_S, self._replay_step)

    def _replay_step(self) -> None:
        if not self._replay:
            if self._replay_timer is not None:
                self._replay_timer.stop()
                self._replay_timer = None
            return
        view = self.transcript
        view.add_turns([self._replay.pop(0)])
        if not self._replay:
            # Turns that arrived during the replay were held back: add them now.
            view.add_turns(
                self.arena.store.turns_since(self.follower.run_id, view.last_seq, consultation_id=self.consultation_id)
            )
        self._title()
