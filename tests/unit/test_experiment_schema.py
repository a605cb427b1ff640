"""Experiment requests: a malformed one is refused naming its field; expansion into runs is deterministic."""

import json
import re
from pathlib import Path

import pytest

from airad.daemon.validation import parse_experiment
from airad.schemas.errors import FieldError
from airad.schemas.experiment import ExperimentRequest, Solver, experiment_run_id, plan_runs, run_request, task_names
from airad.schemas.policies import MctsPolicy
from airad.schemas.request import Budget, BundledTask

EXAMPLE = Path(__file__).parents[2] / "examples" / "experiment.toml"
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
WINE = {"kind": "bundled", "name": "wine"}


def _raw(**fields) -> bytes:
    return json.dumps({"tasks": [WINE], "solvers": [{"name": "a"}], **fields}).encode()


@pytest.mark.parametrize("raw, field, reason", [
    (b"{not json", "$", "not valid JSON"),
    (b"{\"tasks\": \"\xff\"}", "$", "not valid UTF-8"),
    (_raw(tasks=[]), "$.tasks", "length >= 1"),
    (json.dumps({"tasks": [WINE]}).encode(), "$.solvers", "missing required field"),
    (_raw(tasks=[WINE, {"kind": "bundled", "name": "mnist-in-the-sky"}]), "$.tasks[1].name", "unknown bundled task"),
    (_raw(solvers=[{"name": "a"}, {"name": "a"}]), "$.solvers[1].name", "used twice"),
    (_raw(solvers=[{"name": "no spaces"}]), "$.solvers[0].name", "matching regex"),
    (_raw(solvers=[{"name": "a", "policy": {"kind": "oracle"}}]), "$.solvers[0].policy.kind", "no policy 'oracle'"),
    (_raw(solvers=[{"name": "a", "budget": {"max_nodes": 0}}]), "$.solvers[0].budget.max_nodes", ">= 1"),
    (_raw(solvers=[{"name": "a", "colour": "red"}]), "$.solvers[0].colour", "unknown field"),
    (_raw(seeds=[1, 1]), "$.seeds[1]", "listed twice"),
    (_raw(seeds=[-1]), "$.seeds[0]", ">= 0"),
    (_raw(seeds=[0, 2**53]), "$.seeds[1]", "<= 9007199254740991"),
    (_raw(seeds=[0.5]), "$.seeds[0]", "Expected `int`, got `float`"),
    (_raw(seeds=["1"]), "$.seeds[0]", "Expected `int`, got `str`"),
    (_raw(max_parallel_runs=1.5), "$.max_parallel_runs", "got `float`"),
    (_raw(labels={"solver": "x"}), "$.labels.solver", "set by the experiment"),
    (_raw(experiment_id="has space"), "$.experiment_id", "matching regex"),
    (_raw(max_parallel_runs=0), "$.max_parallel_runs", ">= 1"),
    (_raw(executor={"kind": "slurm"}), "$.executor.kind", "no 'slurm' executor"),
])
def test_a_malformed_request_names_its_field(raw, field, reason):
    with pytest.raises(FieldError) as caught:
        parse_experiment(raw, executors={"local"})
    assert caught.value.field == field
    assert reason in caught.value.reason


def test_the_example_is_two_tasks_by_two_policies_by_two_seeds():
    request = parse_experiment(EXAMPLE.read_bytes(), toml=True)
    assert len(request.tasks) == 2 and [s.name for s in request.solvers] == ["greedy", "mcts"] and request.seeds == (0, 1)
    assert all(s.model.name == "airad-offline/coder" for s in request.solvers)
    assert len(plan_runs("x", request)) == 8


def _request(**fields) -> ExperimentRequest:
    return ExperimentRequest(
        tasks=(BundledTask(name="wine"), BundledTask(name="iris")),
        solvers=(Solver(name="greedy"), Solver(name="mcts", policy=MctsPolicy(), budget=Budget(max_nodes=7))),
        seeds=(3, 4), budget=Budget(max_nodes=2), labels={"team": "a"}, **fields,
    )


def test_expansion_is_deterministic_unique_and_ordered_seed_task_solver():
    request = _request()
    first, again = plan_runs("exp-9", request), plan_runs("exp-9", _request())
    assert first == again
    assert len({p.run_id for p in first}) == 8
    assert [p.run_id for p in first[:4]] == ["exp-9-t0-greedy-s3", "exp-9-t0-mcts-s3", "exp-9-t1-greedy-s3", "exp-9-t1-mcts-s3"]
    assert {p.seed for p in first[4:]} == {4}
    assert plan_runs("exp-10", request)[0].run_id != first[0].run_id


def test_each_run_is_an_ordinary_labelled_request_with_its_solver_budget():
    request = _request()
    planned = plan_runs("e1", request)
    greedy, mcts = run_request("e1", request, planned[0]), run_request("e1", request, planned[1])
    assert greedy.run_id == "e1-t0-greedy-s3" and greedy.seed == 3 and greedy.task == BundledTask(name="wine")
    assert greedy.labels == {"team": "a", "experiment": "e1", "solver": "greedy"}
    assert greedy.budget.max_nodes == 2 and mcts.budget.max_nodes == 7
    assert isinstance(mcts.policy, MctsPolicy)


def test_a_long_experiment_id_still_gives_valid_distinct_run_ids():
    long_id = "x" * 64
    ids = {experiment_run_id(long_id, task, "solver-with-a-long-name-here", seed) for task in range(3) for seed in range(3)}
    assert len(ids) == 9
    assert all(RUN_ID.match(run_id) for run_id in ids)
    assert experiment_run_id(long_id, 0, "s", 0) == experiment_run_id(long_id, 0, "s", 0)


def test_tasks_sharing_a_label_are_told_apart():
    request = ExperimentRequest(
        tasks=(BundledTask(name="wine"), BundledTask(name="wine", validation_fraction=0.3), BundledTask(name="iris")),
        solvers=(Solver(name="a"),),
    )
    assert task_names(request) == ["wine#0", "wine#1", "iris"]


def test_program_baseline_and_domain_reach_every_run_and_a_solver_may_replace_the_program(tmp_path):
    (tmp_path / "PROGRAM.md").write_text("# Goal\nBeat the baseline. Avoid: random forest.\n")
    (tmp_path / "train.py").write_text("print('the user script')\n")
    (tmp_path / "TERSE.md").write_text("Try gradient boosting first.\n")
    raw = b"""
program_file = "PROGRAM.md"
baseline_file = "train.py"
domain = "tabular-wine"
seeds = [1]
[[tasks]]
kind = "bundled"
name = "wine"
[[solvers]]
name = "with-program"
[[solvers]]
name = "terse"
program_file = "TERSE.md"
[[solvers]]
name = "no-program"
program = ""
"""
    request = parse_experiment(raw, toml=True, base_dir=tmp_path)
    runs = {p.solver: run_request("exp", request, p) for p in plan_runs("exp", request)}
    assert runs["with-program"].program.startswith("# Goal") and runs["terse"].program == "Try gradient boosting first.\n"
    assert runs["no-program"].program == ""
    assert {r.baseline for r in runs.values()} == {"print('the user script')\n"}
    assert {r.domain for r in runs.values()} == {"tabular-wine"}


def test_a_solver_program_file_that_cannot_be_read_names_its_place(tmp_path):
    raw = b'[[tasks]]\nkind = "bundled"\nname = "wine"\n[[solvers]]\nname = "a"\nprogram_file = "missing.md"\n'
    with pytest.raises(FieldError) as raised:
        parse_experiment(raw, toml=True, base_dir=tmp_path)
    assert raised.value.field == "$.solvers[0].program_file"


def test_integral_floats_are_integers_in_lists_and_in_solvers_too():
    request = parse_experiment(_raw(seeds=[1.0, 2e0, 2**53 - 1], solvers=[{"name": "a", "budget": {"max_nodes": 4.0}}]))
    assert request.seeds == (1, 2, 2**53 - 1) and all(type(seed) is int for seed in request.seeds)
    assert request.solvers[0].budget.max_nodes == 4


def test_the_schema_and_the_daemon_agree_on_an_experiment():
    jsonschema = pytest.importorskip("jsonschema")
    from airad.schemas.experiment import experiment_request_json_schema

    validator = jsonschema.Draft202012Validator(experiment_request_json_schema())
    cases = [
        ({"seeds": [1.0, 2]}, True), ({"seeds": [2**53]}, False), ({"seeds": [0.5]}, False),
        ({"tasks": [{"kind": "script", "dir": "/tmp"}]}, True), ({"tasks": [{"kind": "nope"}]}, False),
    ]
    for fields, valid in cases:
        request = json.loads(_raw(**fields))
        assert validator.is_valid(request) == valid, fields
        if not valid:
            with pytest.raises(FieldError):
                parse_experiment(json.dumps(request))
