"""The pure core's rule of docs/architecture.md, checked on the source of airad/agents. (The layers
themselves are import-linter contracts in pyproject.toml, run by test_guard_rails.py.)"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[2] / "airad"
IO_MODULES = {"anyio", "asyncio", "nats", "litellm", "aiodocker", "asyncssh", "subprocess", "time", "os", "socket", "threading"}


def _sources(sub: str) -> list[Path]:
    return sorted((PACKAGE / sub).rglob("*.py"))


NONDETERMINISTIC_MODULES = {"datetime", "uuid", "secrets", "pathlib", "shutil", "io", "tempfile"}
IO_BUILTINS = {"open", "input", "print"}


def _impurities(source: str) -> list[str]:
    """What in `source` would make the pure core depend on more than its inputs: a call of the
    `random` module's shared generator (any function but `random.Random(seed)`), the clock, the
    environment, the file system or the console."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if isinstance(node, ast.ImportFrom) and node.module == "random":
                names = [f"random.{a.name}" for a in node.names if a.name != "Random"]
            found += [f"imports {n}" for n in names if n.split(".")[0] in IO_MODULES | NONDETERMINISTIC_MODULES or n.startswith("random.")]
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id == "random" and node.attr != "Random":
                found.append(f"uses random.{node.attr} (the shared, unseeded generator)")
            if node.value.id == "os" or (node.value.id, node.attr) in {("sys", "argv"), ("sys", "stdin"), ("sys", "stdout")}:
                found.append(f"uses {node.value.id}.{node.attr}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in IO_BUILTINS:
            found.append(f"calls {node.func.id}()")
    return found


@pytest.mark.parametrize("path", _sources("agents"), ids=lambda p: p.name)
def test_pure_core_does_no_io_and_draws_only_from_seeded_generators(path):
    assert _impurities(path.read_text()) == [], path.name


@pytest.mark.parametrize("source", [
    "import random\nx = random.choice([1, 2])",
    "from random import shuffle",
    "import time",
    "import datetime",
    "import os\nos.environ.get('A')",
    "open('f')",
    "import uuid",
])
def test_the_purity_rule_catches_what_it_names(source):
    assert _impurities(source), source


def test_the_purity_rule_allows_a_seeded_generator():
    assert _impurities("import random\nrng = random.Random(7)\nrng.choice([1])") == []

