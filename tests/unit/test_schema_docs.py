import json
from pathlib import Path

from airad.schemas.request import run_request_json_schema

SCHEMA_FILE = Path(__file__).parents[2] / "docs" / "run-request.schema.json"


def test_committed_json_schema_matches_run_request():
    committed = json.loads(SCHEMA_FILE.read_text())
    assert committed == run_request_json_schema(), "regenerate with: python -m airad.schemas.export"


def test_schema_names_every_top_level_field():
    schema = run_request_json_schema()
    request = schema["$defs"]["RunRequest"]
    assert set(request["properties"]) == {
        "task", "policy", "operators", "model", "operator_models", "seed", "budget", "executor", "run_id", "labels", "program", "baseline", "domain",
    }
    assert request["required"] == ["task"]


EXPERIMENT_SCHEMA_FILE = SCHEMA_FILE.with_name("experiment-request.schema.json")


def test_committed_json_schema_matches_experiment_request():
    from airad.schemas.experiment import experiment_request_json_schema

    committed = json.loads(EXPERIMENT_SCHEMA_FILE.read_text())
    assert committed == experiment_request_json_schema(), "regenerate with: python -m airad.schemas.export"
    request = committed["$defs"]["ExperimentRequest"]
    assert request["required"] == ["tasks", "solvers"]
    assert {"seeds", "budget", "executor", "labels", "experiment_id", "max_parallel_runs"} <= set(request["properties"])
