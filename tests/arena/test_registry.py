"""The registry of roles: one resolution per role, one-line errors, third-party providers through entry points."""

import asyncio
import subprocess
import sys
from importlib.metadata import EntryPoint

import pytest

from arena.core.types import Case
from arena.doctors import ChecklistDoctor, LLMDoctor
from arena.doctors.human import HumanDoctor
from arena.models import ChatModel, ModelError, registry
from arena.models.registry import GROUP, Provider, Role, resolve
from arena.runner import Job, uses_litellm, uses_openai
from cases.loader import builtin_cases
from judges.builtin_rubric import BuiltinRubricJudge, BuiltinSafetyJudge
from judges.llm_rubric import LLMRubricJudge
from personas.builtin_patient import BuiltinPatient
from personas.catalog import get_persona
from personas.deferred_patient import DeferredPatient
from personas.llm_patient import LLMPatient
from personas.measurement import CaseMeasurement


class EchoDoctor:
    """A third party's doctor: it only needs to exist to be built."""

    def __init__(self, name: str) -> None:
        self.name = name


ECHO_DOCTOR = Provider(
    Role.DOCTOR, "echo", lambda name, **_: EchoDoctor(name), claims=lambda name: name.startswith("echo:")
)
ORACLE_DOCTOR = Provider(Role.DOCTOR, "oracle", lambda name, **_: EchoDoctor(name), builtin=True, uses_litellm=True)
NOT_A_PROVIDER = object()


def _ep(name: str, attr: str) -> EntryPoint:
    return EntryPoint(name=name, value=f"{__name__}:{attr}", group=GROUP)


@pytest.fixture
def plugins(monkeypatch):
    """Install entry points as if a third-party package declared them; forget them afterwards."""

    def install(*eps: EntryPoint) -> None:
        monkeypatch.setattr(registry, "installed_entry_points", lambda: eps)
        registry.reload()

    yield install
    registry.reload()


@pytest.fixture
def case() -> Case:
    return builtin_cases()[0]


@pytest.mark.parametrize(
    ("role", "name", "key", "litellm"),
    [
        ("doctor", "builtin/checklist", "checklist", False),
        ("doctor", "builtin/checklist?diligence=0.5", "checklist", False),
        ("doctor", "human", "human", False),
        ("doctor", "http://127.0.0.1:9/doctor", "http", False),
        # Mock scripts and self-hosted endpoints go through the official client: no litellm.
        ("doctor", "mock/doctor?style=thorough", "chat", False),
        ("doctor", "mock/doctor?style=thorough&client=litellm", "chat", True),
        ("doctor", "hosted_vllm/qwen?api_base=http://127.0.0.1:9/v1", "chat", False),
        ("doctor", "openai/qwen?api_base=http://127.0.0.1:9/v1", "chat", False),
        # OpenAI's own models are priced from litellm's price map.
        ("doctor", "openai/gpt-4o", "chat", True),
        ("doctor", "anthropic/claude-3-5-haiku", "chat", True),
        ("patient", "builtin/patient", "patient", False),
        ("patient", "mock/patient", "chat", False),
        ("patient", "mock/patient?client=litellm", "chat", True),
        ("judge", "builtin/rubric", "rubric", False),
        ("judge", "builtin/safety?weight=2", "safety", False),
        ("judge", "mock/judge?mode=batch&client=litellm", "chat", True),
        ("verifier", "mock/verifier", "chat", False),
        ("generator", "builtin/templates", "templates", False),
        ("generator", "mock/judge?client=litellm", "chat", True),
        ("gatekeeper", "builtin/case", "case", False),
        ("gatekeeper", "mock/judge?client=litellm", "chat", True),
        ("gatekeeper", "mock/judge", "chat", False),
    ],
)
def test_each_role_resolves_its_names_to_one_provider(role, name, key, litellm):
    got = resolve(role, name)
    assert (got.role, got.provider.key, got.uses_litellm) == (role, key, litellm)


def test_resolved_providers_build_the_role_s_policies(case):
    persona = get_persona("plain")
    checklist = resolve("doctor", "builtin/checklist").build(seed=1, max_turns=10)
    assert isinstance(checklist, ChecklistDoctor) and checklist.diligence == 0.85
    assert resolve("doctor", "builtin/checklist?diligence=0.3").build(seed=1, max_turns=10).diligence == 0.3
    assert isinstance(resolve("doctor", "human").build(seed=1, max_turns=10), HumanDoctor)
    assert isinstance(resolve("doctor", "mock/doctor").build(seed=1, max_turns=10), LLMDoctor)
    assert isinstance(resolve("patient", "builtin/patient").build(case=case, persona=persona), BuiltinPatient)
    played = resolve("patient", "mock/patient").build(case=case, persona=persona)
    assert isinstance(played, DeferredPatient)  # a model-played patient is prepared once it has opened

    async def opened() -> object:
        await played.open()
        return await played.patient()

    assert isinstance(asyncio.run(opened()), LLMPatient)
    assert isinstance(resolve("judge", "builtin/rubric").build(), BuiltinRubricJudge)
    assert isinstance(resolve("judge", "builtin/safety").build(), BuiltinSafetyJudge)
    assert isinstance(resolve("judge", "mock/judge").build(), LLMRubricJudge)
    assert isinstance(resolve("verifier", "mock/verifier").build(), ChatModel)
    assert isinstance(resolve("gatekeeper", "builtin/case").build(case=case), CaseMeasurement)
    written = resolve("gatekeeper", "mock/judge").build(case=case)
    assert isinstance(written, CaseMeasurement) and written.writer is not None


@pytest.mark.parametrize(
    ("role", "name", "message"),
    [
        ("doctor", "builtin/surgeon", "unknown built-in doctor 'builtin/surgeon' (known: builtin/checklist)"),
        ("patient", "builtin/nobody", "unknown built-in patient 'builtin/nobody' (known: builtin/patient)"),
        ("judge", "builtin/oracle", "unknown built-in judge 'builtin/oracle' (known: builtin/rubric, builtin/safety)"),
        ("generator", "builtin/gpt", "unknown built-in generator 'builtin/gpt' (known: builtin/templates)"),
        ("gatekeeper", "builtin/nurse", "unknown built-in gatekeeper 'builtin/nurse' (known: builtin/case)"),
        ("doctor", "nope", "must look like provider/name"),
        ("verifier", "gpt", "must look like provider/name"),
    ],
)
def test_an_unknown_name_fails_in_one_line_naming_what_the_role_accepts(role, name, message):
    with pytest.raises(ModelError) as e:
        resolve(role, name)
    assert message in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize(
    ("role", "name", "message"),
    [
        ("doctor", "builtin/rubric", "(known: builtin/checklist)"),
        ("judge", "builtin/checklist", "(known: builtin/rubric, builtin/safety)"),
        ("patient", "builtin/checklist", "(known: builtin/patient)"),
        ("generator", "builtin/rubric", "(known: builtin/templates)"),
        ("verifier", "builtin/rubric", "'builtin/rubric' is a built-in policy, not a chat model"),
        ("gatekeeper", "human", "must look like provider/name"),
        ("gatekeeper", "builtin/patient", "(known: builtin/case)"),
    ],
)
def test_a_name_of_another_role_is_rejected(role, name, message):
    with pytest.raises(ModelError, match=message.replace("(", r"\(").replace(")", r"\)")):
        resolve(role, name)


def test_the_template_generator_takes_no_parameters():
    with pytest.raises(ModelError, match="unknown built-in generator"):
        resolve("generator", "builtin/templates?n=2")


def test_an_unknown_role_is_an_error():
    with pytest.raises(ValueError, match="surgeon"):
        resolve("surgeon", "builtin/checklist")


def test_a_third_party_provider_is_resolved_through_its_entry_point(plugins):
    plugins(_ep("doctor.echo", "ECHO_DOCTOR"), _ep("doctor.oracle", "ORACLE_DOCTOR"))
    echo = resolve("doctor", "echo:ward-7")
    assert echo.provider is ECHO_DOCTOR and not echo.uses_litellm
    built = echo.build(seed=0, max_turns=5)
    assert isinstance(built, EchoDoctor) and built.name == "echo:ward-7"
    assert resolve("doctor", "builtin/oracle").provider is ORACLE_DOCTOR
    assert registry.builtin_names(Role.DOCTOR) == ["builtin/checklist", "builtin/oracle"]
    # Other roles and the built-ins are untouched.
    assert resolve("doctor", "builtin/checklist").provider.key == "checklist"
    with pytest.raises(ModelError, match="known: builtin/rubric, builtin/safety"):
        resolve("judge", "builtin/oracle")


def test_without_the_entry_point_the_third_party_name_is_unknown(plugins):
    plugins()
    with pytest.raises(ModelError, match="provider/name"):
        resolve("doctor", "echo:ward-7")


def test_the_provider_says_whether_a_run_needs_litellm(plugins):
    plugins(_ep("doctor.oracle", "ORACLE_DOCTOR"))

    def job(doctor: str) -> Job:
        return Job(consultation_id="c", case_id="k", trial=0, seed=0, doctor=doctor)

    assert not uses_litellm([job("builtin/checklist"), job("human"), job("https://x.test/d")], "builtin/patient")
    assert not uses_litellm([job("builtin/checklist"), job("mock/doctor")], "mock/patient")
    assert uses_litellm([job("builtin/checklist")], "mock/patient?client=litellm")
    assert uses_litellm([job("builtin/checklist"), job("anthropic/claude-3-5-haiku")], "builtin/patient")
    # A built-in name, yet its provider calls litellm: the provider decides, not the prefix.
    assert uses_litellm([job("builtin/oracle")], "builtin/patient")
    # The official client's imports are paid up front only when a chat model needs them.
    assert not uses_openai(["builtin/checklist", "https://x.test/d"], "builtin/patient")
    assert uses_openai(["builtin/checklist"], "mock/patient")
    assert uses_openai(["hosted_vllm/q?api_base=http://127.0.0.1:9/v1"], "builtin/patient")
    assert not uses_openai(["anthropic/claude-3-5-haiku"], "mock/patient?client=litellm")
    assert uses_openai(["builtin/checklist"], "builtin/patient", "builtin/case", "mock/verifier")


@pytest.mark.parametrize(
    ("eps", "message"),
    [
        ((_ep("doctor.thing", "NOT_A_PROVIDER"),), "expected a Provider of role 'doctor' named 'thing'"),
        ((_ep("judge.echo", "ECHO_DOCTOR"),), "expected a Provider of role 'judge' named 'echo'"),
        ((_ep("doctor.missing", "NO_SUCH_NAME"),), "cannot load"),
        ((_ep("doctor.checklist", "ORACLE_DOCTOR"),), "'checklist' is already provided by arena.doctors"),
    ],
)
def test_a_broken_entry_point_is_named_in_one_line(plugins, eps, message):
    plugins(*eps)
    with pytest.raises(ModelError) as e:
        resolve(eps[0].name.partition(".")[0], "builtin/checklist")
    assert message in str(e.value) and eps[0].name in str(e.value) and "\n" not in str(e.value)


def test_the_same_entry_point_listed_twice_loads_once(plugins):
    plugins(_ep("doctor.echo", "ECHO_DOCTOR"), _ep("doctor.echo", "ECHO_DOCTOR"))
    assert [p.key for p in registry.providers(Role.DOCTOR)].count("echo") == 1


def test_resolving_a_doctor_loads_only_doctor_entry_points(plugins):
    # A broken judge plugin does not stop doctors from resolving.
    plugins(_ep("judge.broken", "NO_SUCH_NAME"))
    assert resolve("doctor", "builtin/checklist").provider.key == "checklist"
    with pytest.raises(ModelError, match=r"judge\.broken"):
        resolve("judge", "builtin/rubric")


def test_every_built_in_entry_point_names_its_own_provider():
    for ep in registry.BUILTIN_ENTRY_POINTS:
        provider = ep.load()
        assert isinstance(provider, Provider) and f"{provider.role}.{provider.key}" == ep.name


def test_importing_the_registry_imports_no_role_s_package():
    code = (
        "import sys, arena.models.registry; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('judges', 'personas', 'distill', 'cases') "
        "or m.startswith('arena.doctors')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
