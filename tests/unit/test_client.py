"""airad.Client without a server: request validation, node rows, and what it imports."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from airad.client import NODE_COLUMNS, InvalidRequest, derived_run_id, node_rows, to_request
from airad.events.fold import fold
from airad.schemas.request import Budget, BundledTask, RunRequest
from tests.factories import History

CLIENT = Path(__file__).parents[2] / "airad" / "client.py"


def test_requests_from_struct_dict_toml_and_json_files(tmp_path):
    struct = RunRequest(task=BundledTask(name="wine"), budget=Budget(max_nodes=2), run_id="r-1")
    toml = tmp_path / "r.toml"
    toml.write_text('run_id = "r-1"\n[task]\nkind = "bundled"\nname = "wine"\n[budget]\nmax_nodes = 2\n')
    as_json = tmp_path / "r.json"
    as_json.write_text(json.dumps({"run_id": "r-1", "task": {"kind": "bundled", "name": "wine"}, "budget": {"max_nodes": 2}}))
    as_dict = {"run_id": "r-1", "task": {"kind": "bundled", "name": "wine"}, "budget": {"max_nodes": 2}}
    assert to_request(struct) == to_request(as_dict) == to_request(toml) == to_request(str(as_json)) == struct


@pytest.mark.parametrize("request_, where", [
    ({"task": {"kind": "bundled", "name": "wine"}, "budget": {"max_nodes": 0}}, "$.budget.max_nodes"),
    ({"task": {"kind": "bundled", "name": "wine"}, "colour": "red"}, "colour"),
    ({"budget": {"max_nodes": 2}}, "task"),
    (RunRequest(task=BundledTask(name="wine"), run_id="no spaces allowed"), "$.run_id"),
])
def test_invalid_requests_name_the_field(request_, where):
    with pytest.raises(InvalidRequest, match="invalid run request") as caught:
        to_request(request_)
    assert where in str(caught.value)


def test_a_file_that_is_not_toml_is_invalid(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[task\n")
    with pytest.raises(InvalidRequest):
        to_request(bad)


def test_run_ids_are_derived_as_the_daemon_derives_them():
    assert derived_run_id(7) == "req-7"


def test_node_rows_have_every_column_in_id_order():
    history = History().node(0, "draft").node(1, "improve", (0,), score=None, exit_code=1)
    rows = node_rows(fold(history.events))
    assert [tuple(row) for row in rows] == [NODE_COLUMNS, NODE_COLUMNS]
    assert [row["id"] for row in rows] == [0, 1]
    assert rows[0]["score"] == 0.9 and rows[0]["test_score"] == 0.8 and not rows[0]["buggy"]
    assert rows[1]["parent_ids"] == (0,) and rows[1]["buggy"] and rows[1]["exit_code"] == 1
    assert rows[0]["tokens"] == 12 and rows[0]["cost_usd"] == 0.01


def test_the_client_never_imports_the_daemon():
    tree = ast.parse(CLIENT.read_text())
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
    assert not [name for name in names if name.startswith("airad.daemon")]


def test_importing_airad_stays_cheap_and_client_loads_on_use():
    code = (
        "import sys, airad\n"
        "heavy = [m for m in ('nats', 'pandas', 'msgspec', 'airad.client') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "assert airad.Client.__module__ == 'airad.client'\n"
        "assert 'pandas' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_an_integral_float_is_an_integer_as_the_daemon_reads_it_and_a_fraction_is_not():
    request = {"task": {"kind": "bundled", "name": "iris"}, "seed": 7.0, "budget": {"max_nodes": 1e1}}
    parsed = to_request(request)
    assert (parsed.seed, parsed.budget.max_nodes) == (7, 10)
    with pytest.raises(InvalidRequest, match="seed"):
        to_request({**request, "seed": 1.5})
