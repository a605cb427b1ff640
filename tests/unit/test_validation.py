import json

import pytest

from airad.daemon.intake import accept
from airad.daemon.validation import parse_request
from airad.events.in_memory import InMemoryEventLog, InMemoryRunIndex
from airad.schemas.errors import FieldError
from airad.schemas.events import RunRejected, RunSubmitted
from airad.schemas.request import MAX_BASELINE_CHARS, MAX_PROGRAM_CHARS, MAX_REQUEST_BYTES

GOOD = {"task": {"kind": "bundled", "name": "wine"}}

MALFORMED = [
    (b"not json at all", "$", "not valid JSON"),
    (b"{\"task\": \"\xff\"}", "$", "not valid UTF-8"),
    (b"[1, 2]", "$", "Expected `object`"),
    (b"{}", "$.task", "missing required field"),
    ({"task": {"kind": "bundled", "name": "no-such-task"}}, "$.task.name", "unknown bundled task"),
    ({"task": {"kind": "kaggle", "name": "x"}}, "$.task.kind", "no task kind 'kaggle': built in are bundled"),
    ({**GOOD, "policy": {"kind": "telepathy"}}, "$.policy.kind", "no policy 'telepathy': built in are greedy"),
    ({**GOOD, "budget": {"max_nodes": -3}}, "$.budget.max_nodes", ">= 1"),
    ({**GOOD, "budget": {"usd": -1.0}}, "$.budget.usd", ">= 0"),
    ({**GOOD, "seed": "forty-two"}, "$.seed", "Expected `int`, got `str`"),
    ({**GOOD, "policy": {"kind": "greedy", "debug_prob": 1.5}}, "$.policy.debug_prob", "<= 1"),
    ({**GOOD, "run_id": "has spaces"}, "$.run_id", "matching regex"),
    ({**GOOD, "surprise": True}, "$.surprise", "unknown field"),
    ({**GOOD, "executor": {"kind": "mainframe"}}, "$.executor.kind", "Invalid value 'mainframe'"),
    ({**GOOD, "executor": {"kind": "container", "memory_mb": 10}}, "$.executor.memory_mb", ">= 64"),
    ({**GOOD, "executor": {"kind": "slurm", "gpus": -1}}, "$.executor.gpus", ">= 0"),
    ({**GOOD, "executor": {"kind": "local", "gpus": 1}}, "$.executor.gpus", "unknown field"),
]


@pytest.mark.parametrize("payload, field, reason", MALFORMED)
def test_malformed_requests_name_field_and_reason(payload, field, reason):
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    with pytest.raises(FieldError) as info:
        parse_request(raw)
    assert info.value.field == field
    assert reason in info.value.reason


def test_good_request_gets_defaults():
    request = parse_request(json.dumps(GOOD).encode())
    assert request.policy.num_drafts == 5 and request.budget.max_nodes == 20 and request.seed == 0


def test_toml_request(tmp_path):
    text = '[task]\nkind = "bundled"\nname = "diabetes"\n[budget]\nmax_nodes = 4\n'
    assert parse_request(text.encode(), toml=True).budget.max_nodes == 4
    with pytest.raises(FieldError, match="not valid TOML"):
        parse_request(b"[task\n", toml=True)


def test_an_executor_the_daemon_lacks_is_rejected_naming_the_ones_it_has():
    raw = json.dumps({**GOOD, "executor": {"kind": "slurm", "partition": "gpu"}}).encode()
    assert parse_request(raw, executors=["local", "slurm"]).executor.partition == "gpu"
    with pytest.raises(FieldError) as info:
        parse_request(raw, executors=["local", "container"])
    assert info.value.field == "$.executor.kind"
    assert "no 'slurm' executor configured (it has: container, local)" in info.value.reason


@pytest.mark.parametrize("raw", [
    b'{"task": {"kind": "bundled", "name": "wine"}, "seed": 7.0, "budget": {"max_nodes": 3.0}}',
    b'{"task": {"kind": "bundled", "name": "wine"}, "seed": 7e0, "budget": {"max_nodes": 0.3e1}}',
])
def test_integral_floats_are_integers_as_json_schema_says(raw):
    request = parse_request(raw)
    assert (request.seed, request.budget.max_nodes) == (7, 3)
    assert type(request.seed) is int and type(request.budget.max_nodes) is int


def test_integral_floats_in_toml_and_in_float_fields_keep_their_meaning():
    text = b'seed = 1e3\n[task]\nkind = "bundled"\nname = "wine"\n[budget]\nwall_seconds = 60.0\n'
    request = parse_request(text, toml=True)
    assert request.seed == 1000 and request.budget.wall_seconds == 60.0 and type(request.budget.wall_seconds) is float


@pytest.mark.parametrize("payload, field, reason", [
    ({**GOOD, "seed": 1.5}, "$.seed", "Expected `int`, got `float`"),
    ({**GOOD, "budget": {"max_nodes": 2.5}}, "$.budget.max_nodes", "Expected `int`, got `float`"),
    ({**GOOD, "seed": "1"}, "$.seed", "Expected `int`, got `str`"),
    ({**GOOD, "seed": True}, "$.seed", "Expected `int`, got `bool`"),
    ({**GOOD, "budget": {"max_nodes": "3"}}, "$.budget.max_nodes", "Expected `int`, got `str`"),
    ({**GOOD, "seed": -1}, "$.seed", ">= 0"),
    ({**GOOD, "seed": 2**53}, "$.seed", "<= 9007199254740991"),
    ({**GOOD, "seed": 2**64}, "$.seed", "<= 9007199254740991"),
    ({**GOOD, "seed": 1e300}, "$.seed", "Expected `int`, got `float`"),
])
def test_non_integral_numbers_strings_and_seeds_out_of_range_are_rejected_naming_the_field(payload, field, reason):
    with pytest.raises(FieldError) as info:
        parse_request(json.dumps(payload).encode())
    assert info.value.field == field and reason in info.value.reason


def test_the_seed_range_is_what_a_javascript_number_holds():
    assert parse_request(json.dumps({**GOOD, "seed": 2**53 - 1}).encode()).seed == 2**53 - 1
    assert parse_request(json.dumps({**GOOD, "seed": float(2**53 - 1)}).encode()).seed == 2**53 - 1


def _largest_request() -> dict:
    """A request with every long text field at its cap (ASCII text, one byte a character)."""
    template = "{{ task.name }}\n{{ output_contract }}" + "x" * 1000
    return {
        **GOOD, "program": "p" * MAX_PROGRAM_CHARS, "baseline": "b" * MAX_BASELINE_CHARS,
        "operators": {"templates": {"draft": template}}, "labels": {"team": "t" * 1000},
    }


async def test_a_request_the_schema_allows_under_the_byte_limit_is_accepted():
    raw = json.dumps(_largest_request()).encode()
    assert len(raw) <= MAX_REQUEST_BYTES
    log, index = InMemoryEventLog(), InMemoryRunIndex()
    assert await accept(log, index, raw, 1) == ("req-1", True)
    [submitted] = await log.read("req-1")
    assert isinstance(submitted, RunSubmitted) and len(submitted.request.baseline) == MAX_BASELINE_CHARS


async def test_a_request_over_the_byte_limit_is_rejected_naming_the_limit():
    raw = json.dumps({**_largest_request(), "labels": {"team": "t" * MAX_REQUEST_BYTES}}).encode()
    log, index = InMemoryEventLog(), InMemoryRunIndex()
    assert await accept(log, index, raw, 2) == ("req-2", False)
    [rejected] = await log.read("req-2")
    assert isinstance(rejected, RunRejected) and rejected.field == "$"
    assert f"the limit is {MAX_REQUEST_BYTES} bytes" in rejected.reason


@pytest.mark.parametrize(
    ("task", "field"),
    [
        ({"kind": "csv", "train": "data/train.csv", "target": "y", "metric": "rmse"}, "$.task.train"),
        ({"kind": "script", "dir": "project"}, "$.task.dir"),
        ({"kind": "mlebench", "competition": "spooky", "data_dir": "prepared/spooky"}, "$.task.data_dir"),
    ],
)
def test_a_relative_path_on_the_daemons_host_is_refused_naming_the_field(task, field):
    with pytest.raises(FieldError) as raised:
        parse_request(json.dumps({"task": task}))
    assert raised.value.field == field and "must be absolute" in raised.value.reason


def test_a_request_files_relative_paths_are_made_absolute_beside_it(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.csv").write_text("x,y\n" + "".join(f"{i},{2 * i}\n" for i in range(40)))
    toml = '[task]\nkind = "csv"\ntrain = "data/train.csv"\ntarget = "y"\nmetric = "rmse"\n'
    request = parse_request(toml, toml=True, base_dir=tmp_path)
    assert request.task.train == str(tmp_path / "data" / "train.csv")


def test_an_unknown_executor_kind_lists_the_known_ones():
    with pytest.raises(FieldError) as raised:
        parse_request(json.dumps({"task": {"kind": "bundled", "name": "wine"}, "executor": {"kind": "cloud"}}))
    assert raised.value.field == "$.executor.kind"
    assert "'cloud'" in raised.value.reason and "local, container, ssh, slurm" in raised.value.reason


async def test_bytes_that_are_not_utf8_are_rejected_once_under_the_derived_id():
    log, index = InMemoryEventLog(), InMemoryRunIndex()
    run_id, drive = await accept(log, index, b'{"run_id": "mine", "task": {"name": "wine\xff"}}', 9)
    [rejected] = await log.read(run_id)
    assert (run_id, drive) == ("req-9", False)
    assert isinstance(rejected, RunRejected) and rejected.field == "$" and "UTF-8" in rejected.reason
