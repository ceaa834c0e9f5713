from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture
def toy_arch():
    return str(DATA / "toy-arch.toml")


@pytest.fixture
def toy_llm():
    return str(DATA / "toy-llm.json")
