"""The harness's reference baselines: a constant and a default gradient boosting model, scored on a
task's own split like a node's predictions, recorded once per run (`run.baselines`), shown by
`airad run`, `airad show` and `airad report`, and never part of a policy's view."""

from __future__ import annotations

import msgspec
import pytest

from airad.agents.policy_view import policy_view
from airad.cli.output import final_report, show_header
from airad.daemon.runner import drive_run
from airad.reports.report import run_report
from airad.schemas.events import RunBaselines
from airad.schemas.request import Budget, BundledTask, CsvTask, ScriptTask
from airad.tasks.baselines import reference_baselines
from airad.tasks.registry import open_task
from tests.fakes import ScriptedLLM
from tests.unit.test_runner import GOOD, _services, _submit
from tests.unit.test_user_tasks import shop_table


@pytest.mark.parametrize(
    "name, constant, constant_scores",
    [("breast-cancer", "positive rate", (0.5, 0.5)), ("wine", "majority label", None), ("diabetes", "mean", None)],
)
def test_gradient_boosting_beats_the_constant_on_both_splits(tmp_path, name, constant, constant_scores):
    task = open_task(BundledTask(name=name), 0, tmp_path / "tasks")
    lower = task.harness.metric.lower_is_better
    fixed, boosted = reference_baselines(task)
    assert (fixed.name, boosted.name) == (constant, "gradient boosting")
    assert not fixed.error and not boosted.error
    if constant_scores is not None:
        assert (fixed.validation, fixed.test) == constant_scores
    for split in ("validation", "test"):
        ours, theirs = getattr(boosted, split), getattr(fixed, split)
        assert (ours < theirs) if lower else (ours > theirs), (split, ours, theirs)


def test_a_users_table_with_text_columns_and_gaps_gets_both(tmp_path):
    path = tmp_path / "shop.csv"
    shop_table(300).to_csv(path, index=False)
    task = open_task(CsvTask(train=str(path), target="price", metric="mae", id_column="sku"), 0, tmp_path / "tasks")
    fixed, boosted = reference_baselines(task)
    assert boosted.validation is not None and boosted.validation < fixed.validation


def test_a_task_no_generic_model_can_answer_has_none(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "train.py").write_text("print(1)\n")
    task = open_task(ScriptTask(dir=str(project), metric="accuracy"), 0, tmp_path / "tasks")
    assert reference_baselines(task) == ()


async def test_a_run_records_them_once_and_its_reports_show_them(tmp_path):
    services = _services(tmp_path, ScriptedLLM(lambda prompt: GOOD))
    services.reference_baselines = True
    await _submit(services, budget=Budget(max_nodes=1))
    state = await drive_run(services, "r")
    events = await services.log.read("r")
    [recorded] = [e for e in events if isinstance(e, RunBaselines)]
    assert [b.name for b in recorded.baselines] == ["positive rate", "gradient boosting"]
    assert state.baselines == recorded.baselines
    assert "baselines (validation / test roc_auc): positive rate 0.5 / 0.5, gradient boosting" in final_report(state)
    assert "gradient boosting" in show_header(state)
    report = msgspec.to_builtins(run_report(state))
    assert [b["name"] for b in report["baselines"]] == ["positive rate", "gradient boosting"]
    seen = msgspec.json.encode(policy_view(state)).decode()
    assert "baselines" not in seen and "gradient boosting" not in seen, "no policy sees them"
    again = await drive_run(services, "r")
    assert again.baselines == state.baselines
    assert sum(isinstance(e, RunBaselines) for e in await services.log.read("r")) == 1


def test_the_report_table_names_the_baseline_beside_the_chosen_node():
    from airad.cli.report_output import _baseline_cell
    from airad.schemas.events import Baseline

    run = msgspec.structs.replace(
        _empty_report(), baselines=(Baseline("mean", 3.0, 3.5), Baseline("gradient boosting", 1.0, 1.25))
    )
    assert _baseline_cell(run) == "1.25 (gradient boosting)"
    assert _baseline_cell(_empty_report()) == "-"


def _empty_report():
    from airad.events.fold import RunState

    return run_report(RunState(run_id="x"))


