import json

import pytest

from airad.daemon.validation import parse_request
from airad.schemas.errors import FieldError

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
