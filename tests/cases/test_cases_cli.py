import json

from arena.cli import main


def test_generate_is_reproducible_and_validates(tmp_path, capsys):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert main(["cases", "generate", "--n", "30", "--seed", "9", "--out", str(a)]) == 0
    assert main(["cases", "generate", "--n", "30", "--seed", "9", "--out", str(b)]) == 0
    assert a.read_bytes() == b.read_bytes()
    assert len(a.read_text().splitlines()) == 30
    assert main(["cases", "validate", str(a)]) == 0
    assert "30 cases, all valid" in " ".join(capsys.readouterr().out.split())


def test_validate_names_the_line_and_writes_nothing(tmp_path, capsys):
    a = tmp_path / "a.jsonl"
    main(["cases", "generate", "--n", "3", "--out", str(a)])
    lines = a.read_text().splitlines()
    lines[1] = lines[1].replace('"disclosure":"on_ask"', '"disclosure":"whenever"', 1)
    a.write_text("\n".join(lines) + "\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["cases", "validate", str(a)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "a.jsonl:2: field facts." in err[0] and "disclosure" in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_stats_and_show(tmp_path, capsys):
    a = tmp_path / "a.jsonl"
    main(["cases", "generate", "--n", "20", "--seed", "1", "--out", str(a)])
    capsys.readouterr()
    assert main(["cases", "stats", str(a)]) == 0
    out = capsys.readouterr().out
    for title in ("by organ system", "by complaint", "by difficulty", "by age band", "by sex"):
        assert title in out
    first_id = json.loads(a.read_text().splitlines()[0])["id"]
    assert main(["cases", "show", str(a), first_id]) == 0
    assert first_id in capsys.readouterr().out
    assert main(["cases", "show", str(a), "nope"]) == 2
