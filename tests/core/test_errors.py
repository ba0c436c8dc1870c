from arena.core.errors import error_line


def test_an_error_line_is_the_first_line_of_the_message():
    assert error_line(ValueError("bad field 'age'\n  at line 3\n  details")) == "bad field 'age'"


def test_an_empty_message_names_the_exception_class():
    assert error_line(KeyError()) == "KeyError"
    assert error_line(RuntimeError("   \n  ")) == "RuntimeError"


def test_a_limit_cuts_a_long_line():
    assert error_line(ValueError("x" * 300), limit=200) == "x" * 200
