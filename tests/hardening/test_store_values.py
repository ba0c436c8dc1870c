"""Values at the edges of their columns survive a round trip on every backend (SQLite and PostgreSQL)."""

from arena.core.types import FinalAnswer, Run, RunConfig, Transcript, Turn, Usage, utcnow


def test_edge_values_round_trip(store, stemi):
    store.create_run(Run(id="r1", name="edges", config=RunConfig(cases=1)), [stemi])
    cid = "r1/acs-stemi/t0"
    seed = 2**32 - 1  # consultation seeds are unsigned 32-bit CRCs
    store.start_consultations(
        [
            {
                "id": cid,
                "run_id": "r1",
                "case_id": stemi.id,
                "trial": 0,
                "seed": seed,
                "doctor": "d",
                "patient": "p",
                "persona": "plain",
                "started_at": utcnow(),
            }
        ]
    )
    text = "Ünïcödé – 胸痛 🫀 " + "x" * 100_000 + " 'quotes' \"and\" \\ backslashes"
    turn = Turn(consultation_id=cid, index=0, role="patient", content=text, created_at=utcnow())
    garbled = Turn(consultation_id=cid, index=1, role="doctor", content="ok\x00}{ garbage", created_at=utcnow())
    tr = Transcript(
        id=cid,
        run_id="r1",
        case_id=stemi.id,
        trial=0,
        seed=seed,
        doctor="d",
        patient="p",
        turns=[turn, garbled],
        final=FinalAnswer(diagnosis="Ménière's disease", differential=["胸痛"], plan="rest"),
        stop_reason="final_answer",
        usage={"doctor": Usage(calls=1, prompt_tokens=2**40, cost_usd=1e-9)},
        started_at=utcnow(),
        finished_at=utcnow(),
    )
    store.finish_consultations([tr], {})
    (back,) = store.transcripts("r1")
    assert back.seed == seed
    assert back.turns[0].content == text
    # A NUL (a garbled reply) cannot go into a PostgreSQL text column: it is stored as U+FFFD everywhere.
    assert back.turns[1].content == "ok\ufffd}{ garbage"
    assert back.final == tr.final and back.usage == tr.usage
    assert store.cases("r1")[stemi.id] == stemi
