"""`arena watch` and `arena simulate --tui` wiring (the app itself is tested in tests/tui)."""

import pytest

from arena import cli
from arena.core.store import Store


def test_watch_an_unknown_run_is_one_line_exit_2(db_url, capsys):
    url = db_url
    Store(url)
    assert cli.main(["watch", "run-nope", "--db", url]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no run 'run-nope'" in err[0]


@pytest.mark.slow
def test_simulate_with_the_app_runs_the_stages_beside_it(db_url, monkeypatch, capsys):
    seen = []

    def fake_app(store_url: str, run_id: str | None) -> None:
        # The app would block here until the user quits; the run goes on regardless.
        seen.append((store_url, run_id))

    monkeypatch.setattr("tui.cli.run_app_in_process", fake_app)
    url = db_url
    assert cli.main(["simulate", "--cases", "4", "--db", url, "--tui"]) == 0
    [(store_url, run_id)] = seen
    assert store_url == url and run_id
    summary = Store(url).summary(run_id)
    assert summary.consultations == 4 and summary.errors == 0 and summary.mistakes > 0
    assert f"Results: run {run_id}" in " ".join(capsys.readouterr().out.split())
