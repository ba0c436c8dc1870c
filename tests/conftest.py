import os

# Offline first: litellm must not fetch its price map, Hugging Face must not reach the hub.
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.pop("ARENA_DB", None)

import pytest

from arena.store import Store
from arena.types import Case
from cases.loader import builtin_cases


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'test.db'}")


@pytest.fixture
def stemi() -> Case:
    return next(c for c in builtin_cases() if c.id == "acs-stemi")


@pytest.fixture
def bank() -> tuple[Case, ...]:
    return builtin_cases()
