import datasets
import pytest

from arena.cli import main
from arena.core.store import Store
from tests.conftest import store_run


@pytest.fixture
def distilled(db_url):
    url = db_url
    store = Store(url)
    run = store_run(store, "x", diligence=0.6, n=16, trials=1)
    assert main(["judge", run, "--db", url]) == 0
    assert main(["distill", run, "--replicate", "--db", url]) == 0
    return store, run, url


def test_round_trip_of_every_config_with_its_features(distilled, tmp_path, capsys):
    store, run, url = distilled
    capsys.readouterr()
    out = tmp_path / "ds"
    assert main(["export", "hf", run, "--out", str(out), "--db", url]) == 0
    datasets.disable_progress_bars()
    qa = datasets.load_dataset(str(out), "qa", split="train")
    mistakes = datasets.load_dataset(str(out), "mistakes", split="train")
    transcripts = datasets.load_dataset(str(out), "transcripts", split="train")
    verdicts = datasets.load_dataset(str(out), "verdicts", split="train")
    valid = [q for q in store.qa_items(run) if q.valid]
    assert qa.num_rows == len(valid) > 0
    assert mistakes.num_rows == len(store.mistakes(run)) > 0
    assert transcripts.num_rows == 16 and verdicts.num_rows == len(store.verdicts(run))
    assert qa.features["options"].feature.dtype == "string"
    assert qa.features["replicated"].dtype == "bool"
    assert qa.features["cluster_size"].dtype == "int32"
    assert mistakes.features["turns"].feature.dtype == "int32"
    assert transcripts.features["turns"].feature["role"].dtype == "string"
    assert verdicts.features["points"].dtype == "float32"
    sizes = {c.id: c.count for c in store.clusters(run)}
    assert sorted(qa["cluster_size"]) == sorted(sizes[q.cluster_id] for q in valid)
    card = (out / "README.md").read_text()
    assert "config_name: qa" in card and "num_examples: " + str(qa.num_rows) in card


def test_filters_and_splits(distilled, tmp_path):
    store, run, url = distilled
    high = tmp_path / "high"
    assert main(["export", "hf", run, "--out", str(high), "--min-risk", "high", "--db", url]) == 0
    datasets.disable_progress_bars()
    m = datasets.load_dataset(str(high), "mistakes", split="train")
    assert set(m["risk"]) <= {"high", "critical"}
    assert m.num_rows == sum(x.risk in ("high", "critical") for x in store.mistakes(run))
    rep = tmp_path / "rep"
    assert main(["export", "hf", run, "--out", str(rep), "--replicated-only", "--db", url]) == 0
    q = datasets.load_dataset(str(rep), "qa", split="train")
    assert q.num_rows == sum(bool(x.replicated) for x in store.qa_items(run) if x.valid)
    assert all(q["replicated"])
    by = tmp_path / "by"
    assert main(["export", "hf", run, "--out", str(by), "--split-by", "system", "--db", url]) == 0
    splits = datasets.load_dataset(str(by), "qa")
    systems = {c.organ_system.replace("-", "_") for c in store.cases(run).values()}
    assert set(splits) <= systems and sum(s.num_rows for s in splits.values()) == len(
        [x for x in store.qa_items(run) if x.valid]
    )


def test_push_without_a_token_fails_in_one_line_and_writes_nothing(distilled, tmp_path, monkeypatch, capsys):
    _, run, url = distilled
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    target = tmp_path / "pushed"
    capsys.readouterr()
    assert main(["export", "hf", run, "--out", str(target), "--push", "--repo", "someone/x", "--db", url]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no Hugging Face token" in err[0]
    assert not target.exists()
    assert main(["export", "hf", run, "--out", str(target), "--push", "--db", url]) == 2
    assert "--repo" in capsys.readouterr().err


def test_the_card_names_the_committee_and_rule_the_verdicts_came_from(distilled, tmp_path):
    store, run, url = distilled
    rejudge = ["judge", run, "--judge", "builtin/rubric", "--judge", "builtin/safety", "--rule", "unanimous"]
    assert main([*rejudge, "--db", url]) == 0
    assert main(["export", "hf", run, "--out", str(tmp_path / "ds"), "--db", url]) == 0
    card = (tmp_path / "ds" / "README.md").read_text()
    assert "the committee verdict is the unanimous of the judges" in card
    assert "builtin/safety" in card
    assert store.get_run(run).config.judges == ["builtin/rubric"]  # what the run was configured with
    transcripts = datasets.load_dataset(str(tmp_path / "ds"), "transcripts", split="train")
    assert set(transcripts["format"]) == {"dialogue"}
