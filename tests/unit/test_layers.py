"""The dependency rule of DESIGN.md, checked on the source: cli, tui, daemon -> executors, tasks -> agents -> events -> schemas."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[2] / "airad"
LAYER = {"schemas": 0, "events": 1, "agents": 2, "tasks": 3, "executors": 3, "offline": 4, "daemon": 5, "tui": 5, "tracking": 5}
IO_MODULES = {"anyio", "asyncio", "nats", "litellm", "aiodocker", "asyncssh", "subprocess", "time", "os", "socket", "threading"}


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _sources(sub: str) -> list[Path]:
    return sorted((PACKAGE / sub).rglob("*.py"))


@pytest.mark.parametrize("sub", sorted(LAYER))
def test_imports_point_down_the_layers(sub):
    for path in _sources(sub):
        for name in _imports(path):
            parts = name.split(".")
            if parts[0] != "airad" or len(parts) < 2 or parts[1] not in LAYER:
                continue
            target = parts[1]
            assert target == sub or LAYER[target] < LAYER[sub], f"{path.relative_to(PACKAGE)} imports {name}"


def test_pure_core_does_no_io():
    for path in _sources("agents"):
        for name in _imports(path):
            assert name.split(".")[0] not in IO_MODULES, f"{path.name} imports {name}"
        text = path.read_text()
        assert "os.environ" not in text and "random.random()" not in text


def test_tui_never_imports_the_daemon():
    for path in _sources("tui"):
        assert not any(n.startswith("airad.daemon") for n in _imports(path)), path
