from arena.doctors.protocol import parse_doctor_reply


def test_json_question():
    a = parse_doctor_reply('{"action": "ask", "text": "Any fever?"}')
    assert (a.kind, a.text, a.parse_error) == ("ask", "Any fever?", "")


def test_json_embedded_in_prose_and_test_request():
    a = parse_doctor_reply('Sure. {"action": "test", "request": "ECG"} thanks')
    assert (a.kind, a.request, a.parse_error) == ("test", "ECG", "")


def test_json_final_answer_with_string_differential():
    a = parse_doctor_reply('{"action": "final", "diagnosis": "STEMI", "differential": "PE; dissection", "plan": "PCI"}')
    assert a.kind == "final" and a.final is not None
    assert a.final.diagnosis == "STEMI"
    assert a.final.differential == ["PE", "dissection"]
    assert a.final.plan == "PCI"


def test_final_lines_without_json_are_read_and_flagged():
    a = parse_doctor_reply("I think this is it.\nFinal diagnosis: Migraine\nDifferential: tension headache\nPlan: rest")
    assert a.kind == "final" and a.final is not None
    assert a.final.diagnosis == "Migraine"
    assert a.final.differential == ["tension headache"]
    assert "no JSON" in a.parse_error


def test_plain_text_is_a_question_and_flagged():
    a = parse_doctor_reply("How long have you had it?")
    assert a.kind == "ask" and a.text == "How long have you had it?"
    assert a.parse_error


def test_final_without_diagnosis_is_flagged_not_fatal():
    a = parse_doctor_reply('{"action": "final", "plan": "admit"}')
    assert a.kind == "final" and a.parse_error == "final answer without a diagnosis"
