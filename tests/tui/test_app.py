from __future__ import annotations

import threading
from typing import Any

import pytest
from rich.text import Text
from textual.widgets import DataTable, Select, Static

from arena.core.store import Store
from tests.tui import data
from tests.tui.conftest import POLL_S, fixed_clock, wait_for
from tui.app import ArenaApp, make_app
from tui.screens import consultation as consultation_screen
from tui.screens.browse import MistakesScreen, QAScreen
from tui.screens.consultation import ConsultationScreen
from tui.screens.consultations import ConsultationsScreen
from tui.screens.dashboard import DashboardScreen
from tui.screens.runs import RunsScreen
from tui.widgets.final import FinalAnswerView
from tui.widgets.transcript import TranscriptView, TurnView
from tui.widgets.verdicts import VerdictsView

pytestmark = pytest.mark.anyio

SIZE = (80, 24)


def app_for(url: str, run: str | None = None) -> ArenaApp:
    return make_app(url, run, poll_interval=POLL_S, clock=fixed_clock())


def text(widget: Static) -> str:
    content: Any = widget.content
    return content.plain if isinstance(content, Text) else str(content)


async def on_screen(pilot, app: ArenaApp, kind: type) -> Any:
    """Wait until the screen on top is a ``kind`` that has finished mounting; return it."""
    await wait_for(pilot, lambda: isinstance(app.screen, kind) and getattr(app.screen, "ready", True))
    return app.screen


def cell(table: DataTable, row: str, column: str) -> str:
    value = table.get_cell(row, column)
    return (value.plain if isinstance(value, Text) else str(value)).strip()


def live_run(store: Store, n: int = 2, turns: int = 3) -> list[str]:
    """A run of four planned consultations, ``n`` of them started with ``turns`` turns each."""
    bank = data.cases()
    data.create_run(store, n_cases=4)
    ids = []
    for i, case_id in enumerate(["acs-stemi", "appendicitis", "gord", "migraine"][:n]):
        case = bank[case_id]
        cid = data.start(store, case, started=data.at(i))
        store.add_turns(data.RUN_ID, data.script(case, cid, data.at(i))[:turns])
        ids.append(cid)
    return ids


def finish(store: Store, cid: str, case_id: str, written: int) -> None:
    case = data.cases()[case_id]
    turns = data.script(case, cid, data.T0)
    store.finish_consultations([data.transcript(case, cid, turns)], {cid: written})


async def test_dashboard_follows_a_run_written_by_another_thread(db_url, store):
    [a, _b] = live_run(store)
    app = app_for(db_url)
    async with app.run_test(size=SIZE) as pilot:
        await on_screen(pilot, app, DashboardScreen)
        line = app.screen.query_one("#progress-line", Static)
        assert "0 done  2 in flight  0 failed  of 4" in text(line)
        usage = app.screen.query_one("#usage", DataTable)
        assert cell(usage, "doctor", "calls") == "2"

        def simulate() -> None:
            # Its own Store, as `arena simulate --tui` would have.
            writer = Store(db_url)
            bank = data.cases()
            c = data.start(writer, bank["gord"], started=data.at(5))
            writer.add_turns(data.RUN_ID, data.script(bank["gord"], c, data.at(5))[:2])
            finish(writer, a, "acs-stemi", 3)
            writer.finish_consultations(
                [data.transcript(bank["gord"], c, [], error="RuntimeError: model went away")], {c: 2}
            )

        thread = threading.Thread(target=simulate)
        thread.start()
        thread.join()
        await wait_for(pilot, lambda: "1 done  1 in flight  1 failed  of 4" in text(line))
        # The finished consultation counts its stored usage (5 doctor calls), the running one
        # its turns so far (1), the failed one its stored usage (none).
        await wait_for(pilot, lambda: cell(usage, "doctor", "calls") == "6")
        failures = app.screen.query_one("#failures", DataTable)
        assert failures.row_count == 1
        assert "model went away" in cell(failures, data.cid_of(data.RUN_ID, "gord"), "error")
        assert "ETA" in text(line)


async def test_consultations_table_adds_and_updates_rows_live(db_url, store):
    [a, b] = live_run(store)
    app = app_for(db_url)
    async with app.run_test(size=SIZE) as pilot:
        await on_screen(pilot, app, DashboardScreen)
        await pilot.press("c")
        await on_screen(pilot, app, ConsultationsScreen)
        table = app.screen.query_one("#consultations", DataTable)
        assert table.row_count == 2
        assert cell(table, a, "status") == "running" and cell(table, a, "turns") == "3"

        store.add_turns(data.RUN_ID, data.script(data.cases()["appendicitis"], b, data.T0)[3:5])
        c = data.start(store, data.cases()["gord"], started=data.at(9))
        await wait_for(pilot, lambda: table.row_count == 3 and cell(table, b, "turns") == "5")
        finish(store, a, "acs-stemi", 3)
        await wait_for(pilot, lambda: cell(table, a, "status") == "done")
        assert cell(table, a, "turns") == "10"
        assert c in table.rows


async def test_consultations_filter_search_and_sort(db_url, finished):
    app = app_for(db_url)
    async with app.run_test(size=SIZE) as pilot:
        await on_screen(pilot, app, DashboardScreen)
        await pilot.press("c")
        await on_screen(pilot, app, ConsultationsScreen)
        screen = app.screen
        assert isinstance(screen, ConsultationsScreen)
        table = screen.query_one("#consultations", DataTable)
        assert table.row_count == 6

        await pilot.press("f")
        assert app.focused is screen.query_one("#f-doctor", Select)
        screen.query_one("#consultations", DataTable).focus()
        screen.query_one("#f-status", Select).value = "error"
        await wait_for(pilot, lambda: table.row_count == 1)
        assert data.cid_of(data.RUN_ID, "dka") in table.rows
        screen.query_one("#f-doctor", Select).value = data.OTHER_DOCTOR
        await wait_for(pilot, lambda: table.row_count == 0)
        await pilot.press("x")
        await wait_for(pilot, lambda: table.row_count == 6)

        screen.query_one("#f-persona", Select).value = "anxious"
        await wait_for(pilot, lambda: table.row_count == 3)
        screen.query_one("#f-score", Select).value = "< 0.25"
        await wait_for(pilot, lambda: table.row_count == 0)
        await pilot.press("x")
        await wait_for(pilot, lambda: table.row_count == 6)

        await pilot.press("slash")
        await pilot.press(*"menin")
        await wait_for(pilot, lambda: table.row_count == 1)
        await pilot.press("escape")
        await wait_for(pilot, lambda: table.row_count == 6)

        # `s` cycles the sort column: consultation, doctor, organ, status, turns, score.
        await pilot.press(*"ssssss")
        assert screen.sort_column == "score"
        scores = [cell(table, str(r.key.value), "score") for r in table.ordered_rows]
        numbers = [float(s) for s in scores if s != "—"]
        assert numbers == sorted(numbers) and scores[-1] == "—"
        await pilot.press("S")
        scores = [cell(table, str(r.key.value), "score") for r in table.ordered_rows]
        assert [float(s) for s in scores if s != "—"] == sorted(numbers, reverse=True)
        assert "sorted by score ▼" in text(screen.query_one("#table-status", Static))

        # The cursor stays on its row through sorting; move it to the top row and open that.
        table.move_cursor(row=0)
        await pilot.press("enter")
        await on_screen(pilot, app, ConsultationScreen)
        assert app.screen.consultation_id == str(table.ordered_rows[0].key.value)  # type: ignore[attr-defined]


async def test_consultation_streams_turns_and_pauses_auto_scroll(db_url, store):
    [a, _b] = live_run(store, turns=6)
    app = app_for(db_url)
    async with app.run_test(size=SIZE) as pilot:
        await on_screen(pilot, app, DashboardScreen)
        app.open_consultation(a)
        await on_screen(pilot, app, ConsultationScreen)
        view = app.screen.query_one(TranscriptView)
        assert view.turn_count == 6 and view.following
        case = data.cases()["acs-stemi"]
        turns = data.script(case, a, data.T0)

        store.add_turns(data.RUN_ID, turns[6:8])
        await wait_for(pilot, lambda: view.turn_count == 8)
        await wait_for(pilot, lambda: view.max_scroll_y > 0 and view.scroll_y == view.max_scroll_y)

        await pilot.press("p")
        assert not view.following
        assert "paused" in text(app.screen.query_one("#c-title", Static))
        await pilot.press("home")
        store.add_turns(data.RUN_ID, turns[8:9])
        await wait_for(pilot, lambda: view.turn_count == 9)
        assert view.scroll_y == 0

        await pilot.press("p")
        assert view.following
        await wait_for(pilot, lambda: view.scroll_y == view.max_scroll_y)

        # The consultation ends, then the run is judged: outcome and verdicts appear.
        store.finish_consultations([data.transcript(case, a, turns)], {a: 9})
        final = app.screen.query_one(FinalAnswerView)
        await wait_for(pilot, lambda: "Diagnosis" in text(final))
        assert view.turn_count == 10
        verdicts, scores = data.judge([data.transcript(case, a, turns)], data.cases())
        store.replace_judgement(data.RUN_ID, verdicts, scores)
        verdict_view = app.screen.query_one(VerdictsView)
        await wait_for(pilot, lambda: verdict_view.verdicts is not None and bool(verdict_view.verdicts.items))
        assert verdict_view.verdicts is not None and verdict_view.verdicts.splits == 3
        assert "Score" in text(final)


async def test_consultation_marks_facts_guard_requests_and_splits(db_url, finished):
    app = app_for(db_url)
    async with app.run_test(size=SIZE) as pilot:
        await on_screen(pilot, app, DashboardScreen)
        app.open_consultation(finished[0].id)
        await on_screen(pilot, app, ConsultationScreen)
        screen = app.screen
        views = list(screen.query(TurnView))
        assert len(views) == 10
        case = data.cases()["acs-stemi"]
        opening = views[0]
        assert opening.has_class("-reveals") and opening.has_class("-patient")
        assert case.facts[0].id in text(opening)
        guarded = views[4]
        assert guarded.has_class("-guard")
        assert "GUARD REPLACED" in text(guarded) and "I came back from Thailand last week" in text(guarded)
        assert guarded.has_class("-synthesized") and not views[2].has_class("-synthesized")
        assert "SYNTHESIZED" in text(guarded) and "travel" in text(guarded) and "denial" in text(guarded)
        assert "EXAM" in text(views[5]) and "TEST" in text(views[7])
        assert views[6].has_class("-measurement") and "RESULT" in text(views[6])
        assert "FINAL ANSWER" in text(views[9])
        final = text(screen.query_one(FinalAnswerView))
        assert case.diagnosis.name in final and "exact" in final
        verdicts = screen.query_one(VerdictsView).verdicts
        assert verdicts is not None and verdicts.judges == data.JUDGES and verdicts.splits == 3
        assert not screen.query_one(TranscriptView).following  # a finished consultation opens at its start

        await pilot.press("slash", *"travelled", "enter")
        await pilot.pause()
        assert [v.turn.index for v in screen.query(TurnView) if v.has_class("-match")] == [3]
        await pilot.press("escape")
        await pilot.press("v")
        await pilot.press("escape")
        await on_screen(pilot, app, DashboardScreen)


async def test_replay_plays_a_finished_consultation_again(db_url, finished, monkeypatch):
    monkeypatch.setattr(consultation_screen, "REPLAY_STEP_S", 0.01)
    app = app_for(db_url)
    async with app.run_test(size=SIZE) as pilot:
        await on_screen(pilot, app, DashboardScreen)
        app.open_consultation(finished[1].id)
        await on_screen(pilot, app, ConsultationScreen)
        view = app.screen.query_one(TranscriptView)
        added: list[int] = []
        add_turns = view.add_turns

        def spy(turns):
            n = add_turns(turns)
            added.append(n)
            return n

        monkeypatch.setattr(view, "add_turns", spy)
        await pilot.press("R")
        # One turn at a time, all ten of them, then whatever arrived meanwhile (nothing).
        await wait_for(pilot, lambda: sum(added) == 10 and len(added) >= 10)
        assert added[:10] == [1] * 10
        await wait_for(pilot, lambda: view.turn_count == 10)


@pytest.mark.parametrize(("key", "screen_type"), [("m", MistakesScreen), ("a", QAScreen)])
async def test_mistakes_and_qa_jump_to_their_consultation(db_url, finished, key, screen_type):
    app = app_for(db_url)
    async with app.run_test(size=SIZE) as pilot:
        await on_screen(pilot, app, DashboardScreen)
        await pilot.press(key)
        await on_screen(pilot, app, screen_type)
        browse = app.screen
        assert isinstance(browse, screen_type)
        table = browse.query_one("#records", DataTable)
        assert table.row_count == len(browse.records) == 19
        await pilot.press("down")
        record = browse.by_id[str(table.ordered_rows[1].key.value)]
        assert text(browse.query_one("#detail", Static)) == browse.detail(record).plain  # type: ignore[arg-type, union-attr]
        await pilot.press("g")
        await on_screen(pilot, app, ConsultationScreen)
        assert app.screen.consultation_id == browse.consultation_of(record)  # type: ignore[attr-defined, arg-type]
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is browse)

        await pilot.press("slash", *"zzq")
        await wait_for(pilot, lambda: table.row_count == 0)
        await pilot.press("escape")
        await wait_for(pilot, lambda: table.row_count == 19)


async def test_mistakes_screen_reloads_when_the_run_is_redistilled(db_url, store, finished):
    app = app_for(db_url)
    async with app.run_test(size=SIZE) as pilot:
        await on_screen(pilot, app, DashboardScreen)
        await pilot.press("m")
        await on_screen(pilot, app, MistakesScreen)
        table = app.screen.query_one("#records", DataTable)
        mistakes, items = data.distill(data.RUN_ID, finished, store.verdicts(data.RUN_ID), data.cases())
        store.replace_distillation(data.RUN_ID, mistakes[:5], items[:5])
        await wait_for(pilot, lambda: table.row_count == 5)


async def test_runs_screen_lists_runs_and_opens_one(db_url, store, finished):
    app = app_for(db_url, "demo")
    async with app.run_test(size=SIZE) as pilot:
        await on_screen(pilot, app, DashboardScreen)
        await pilot.press("r")
        await on_screen(pilot, app, RunsScreen)
        table = app.screen.query_one("#runs", DataTable)
        assert table.row_count == 1 and cell(table, data.RUN_ID, "failed") == "1"

        data.create_run(store, "run-next", name="next", n_cases=2, created=data.at(100))
        await wait_for(pilot, lambda: table.row_count == 2)
        assert str(table.ordered_rows[0].key.value) == "run-next"
        data.start(store, data.cases()["gord"], run_id="run-next")
        await wait_for(pilot, lambda: cell(table, "run-next", "flight") == "1")

        table.move_cursor(row=0)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.follower is not None and app.follower.run_id == "run-next")
        await on_screen(pilot, app, DashboardScreen)
        await pilot.press("c")
        await on_screen(pilot, app, ConsultationsScreen)
        assert app.screen.query_one("#consultations", DataTable).row_count == 1


async def test_waits_for_a_run_that_does_not_exist_yet(db_url, store):
    app = app_for(db_url, "later")
    async with app.run_test(size=SIZE) as pilot:
        await on_screen(pilot, app, RunsScreen)
        assert "Waiting for run 'later'" in text(app.screen.query_one("#runs-note", Static))
        await pilot.press("c")  # no run yet: stays
        assert isinstance(app.screen, RunsScreen)
        data.create_run(store, "run-later", name="later", n_cases=1)
        await on_screen(pilot, app, DashboardScreen)
        assert app.follower is not None and app.follower.run_id == "run-later"


async def test_opens_the_newest_run_without_a_reference(db_url, store, finished):
    data.create_run(store, "run-newer", name="newer", n_cases=1, created=data.at(500))
    app = app_for(db_url)
    async with app.run_test(size=SIZE) as pilot:
        await on_screen(pilot, app, DashboardScreen)
        assert app.follower is not None and app.follower.run_id == "run-newer"
