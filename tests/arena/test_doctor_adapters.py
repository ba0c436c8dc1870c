"""Doctors other than a chat model: an HTTP endpoint, a person at the terminal; and doctor styles."""

import asyncio
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from arena.core.types import Case
from arena.doctors import DOCTOR_STYLES, LLMDoctor, check_doctor, get_doctor
from arena.doctors.http import HTTPDoctor
from arena.doctors.human import HumanDoctor, parse_human_line
from arena.engine import run_consultation
from arena.models import ModelError, get_model
from personas.builtin_patient import BuiltinPatient
from personas.catalog import get_persona
from personas.measurement import CaseMeasurement

SCRIPT = [
    "Where exactly is the pain, and does it spread anywhere?",
    '{"action": "test", "request": "ECG"}',
    "Final diagnosis: acute myocardial infarction\nPlan: aspirin, cath lab",
]


class _Endpoint:
    """A scripted doctor served on 127.0.0.1 that fails its first request with 503."""

    def __init__(self, fail_first: int = 1, body: bytes | None = None) -> None:
        self.requests: list[dict] = []
        self.fail_first = fail_first
        self.body = body
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                data = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                endpoint.requests.append(data)
                if len(endpoint.requests) <= endpoint.fail_first:
                    self.send_response(503)
                    self.end_headers()
                    return
                if endpoint.body is not None:
                    out = endpoint.body
                else:
                    turn = sum(m["role"] == "assistant" for m in data["messages"])
                    out = json.dumps({"response": SCRIPT[min(turn, len(SCRIPT) - 1)]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/doctor"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint():
    e = _Endpoint()
    yield e
    e.close()


def _play(case: Case, doctor, max_turns=6):
    return asyncio.run(
        run_consultation(
            case,
            doctor,
            BuiltinPatient(case, get_persona("plain")),
            CaseMeasurement(case),
            consultation_id="c1",
            run_id="r1",
            max_turns=max_turns,
        )
    )


def test_http_doctor_plays_a_consultation_and_sees_nothing_hidden(stemi: Case, endpoint):
    doctor = get_doctor(endpoint.url, seed=0, max_turns=6, case=stemi)
    assert isinstance(doctor, HTTPDoctor)
    tr = _play(stemi, doctor)
    assert tr.error is None and tr.stop_reason == "final_answer"
    assert tr.final is not None and "myocardial infarction" in tr.final.diagnosis
    kinds = [t.role for t in tr.turns]
    assert kinds == ["patient", "doctor", "patient", "doctor", "measurement", "doctor"]
    # The first request failed with 503 and was retried with the same body.
    assert endpoint.requests[0] == endpoint.requests[1]
    assert tr.usage["doctor"].retries == 1 and tr.usage["doctor"].calls == 3
    last = endpoint.requests[-1]
    assert last["messages"][0]["role"] == "system"
    assert [m["role"] for m in last["messages"][1:]] == ["user", "assistant", "user", "assistant", "user"]
    assert last["messages"][-1]["content"].startswith("RESULT:")
    ctx = last["patient_context"]
    assert ctx["age"] == stemi.demographics.age and ctx["sex"] == stemi.demographics.sex
    sent = json.dumps(endpoint.requests).lower()
    assert stemi.diagnosis.name.lower() not in sent


def test_http_doctor_with_a_malformed_reply_fails_its_consultation_only(stemi: Case):
    e = _Endpoint(fail_first=0, body=b'{"answer": "no response key"}')
    try:
        tr = _play(stemi, get_doctor(e.url, seed=0, max_turns=4, case=stemi))
    finally:
        e.close()
    assert tr.stop_reason == "error" and '"response"' in (tr.error or "")
    assert len(e.requests) == 1  # a wrong shape is not retried


@pytest.mark.parametrize("url", ["http://", "http://:80/x", "http://host:notaport/x"])
def test_bad_doctor_urls_are_refused(url):
    with pytest.raises(ModelError, match="doctor URL"):
        check_doctor(url)


@pytest.mark.parametrize(
    ("line", "kind", "request_", "diagnosis"),
    [
        ("Any chest pain?", "ask", "", None),
        ("/exam cardiovascular examination", "exam", "cardiovascular examination", None),
        ("/test troponin", "test", "troponin", None),
        ("/final Acute MI | Pulmonary embolism, Aortic dissection | Aspirin", "final", "", "Acute MI"),
    ],
)
def test_human_lines_become_actions(line, kind, request_, diagnosis):
    a = parse_human_line(line)
    assert a.kind == kind and a.request == request_
    if diagnosis:
        assert a.final is not None and a.final.diagnosis == diagnosis
        assert a.final.differential == ["Pulmonary embolism", "Aortic dissection"] and a.final.plan == "Aspirin"


def test_human_doctor_plays_from_a_terminal(stemi: Case):
    stdin = io.StringIO("Where is the pain?\n\n/test ECG\n/final STEMI | unstable angina | cath lab\n")
    stdout = io.StringIO()
    tr = _play(stemi, HumanDoctor(stdin, stdout))
    assert tr.stop_reason == "final_answer" and tr.final is not None and tr.final.diagnosis == "STEMI"
    assert [t.role for t in tr.turns] == ["patient", "doctor", "patient", "doctor", "measurement", "doctor"]
    shown = stdout.getvalue()
    assert stemi.chief_complaint in shown and tr.turns[2].content in shown and tr.turns[4].content in shown


def test_human_doctor_whose_input_ends_leaves_a_recorded_empty_answer(stemi: Case):
    tr = _play(stemi, HumanDoctor(io.StringIO("Any fever?\n"), io.StringIO()))
    assert tr.stop_reason == "final_answer" and tr.final is not None and tr.final.diagnosis == ""
    assert tr.turns[-1].action is not None and "input ended" in tr.turns[-1].action.parse_error


@pytest.mark.parametrize("style", DOCTOR_STYLES)
def test_each_doctor_style_has_its_own_prompt(style):
    text = (Path("arena/doctors/templates/doctor_styles") / f"{style}.j2").read_text().strip()
    doctor = get_doctor(f"mock/doctor?style={style}", seed=0, max_turns=7)
    assert isinstance(doctor, LLMDoctor)
    system = doctor.messages[0]["content"]
    assert text in system and "at most 7 turns" in system
    others = [s for s in DOCTOR_STYLES if s != style]
    for other in others:
        assert (Path("arena/doctors/templates/doctor_styles") / f"{other}.j2").read_text().strip() not in system


def test_unknown_doctor_style_is_refused_and_style_is_not_sent_to_the_provider():
    with pytest.raises(ModelError, match="unknown doctor style 'chatty'"):
        check_doctor("openai/gpt-4o?style=chatty")
    assert "style" not in get_model("anthropic/claude-3-5-haiku?style=thorough").kwargs
    assert "style" not in get_model("openai/gpt-4o?style=thorough").call.body


def test_checklist_diligence_defaults_once_and_must_be_a_number():
    from arena.doctors import DEFAULT_DILIGENCE, ChecklistDoctor, diligence_of

    assert DEFAULT_DILIGENCE == 0.85
    assert diligence_of("builtin/checklist") == 0.85 and ChecklistDoctor("d", 0).diligence == 0.85
    assert diligence_of("builtin/checklist?diligence=0.25") == 0.25
    with pytest.raises(ModelError, match="diligence must be a number"):
        check_doctor("builtin/checklist?diligence=much")
    with pytest.raises(ModelError, match=r"unknown built-in doctor 'builtin/rubric' \(known: builtin/checklist\)"):
        check_doctor("builtin/rubric")
