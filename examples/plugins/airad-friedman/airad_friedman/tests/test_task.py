"""The plugin's own tests: airad's task contract (the same suite airad runs on its built-in task
kinds) on the `friedman` kind, opened as the daemon opens it (by its entry point), and intake's
checks of its parameters. No daemon, no NATS.

Run them with `python -m pytest -q examples/plugins/airad-friedman/airad_friedman/tests` (airad and this
package must be installed: the kind is found by its entry point).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from airad.daemon.validation import parse_request
from airad.schemas.errors import FieldError
from airad.schemas.request import PluginTask
from airad.tasks.plugins import task_plugins
from airad.testing.task_contract import HeldOutTaskContract

from airad_friedman import TASK


def answers(task) -> pd.DataFrame:
    """The harness's answers: the id, the target and the split of every scored row."""
    return pd.read_csv(Path(task.root) / "private" / "answers.csv")


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


class TestFriedmanTask(HeldOutTaskContract):
    """airad's contract for tasks whose harness keeps the answers, on a small Friedman task."""

    @pytest.fixture
    def spec(self):
        return PluginTask(name="friedman", params={"rows": 400, "noise": 0.5})

    def perfect(self, task) -> bytes:
        return csv_bytes(answers(task)[["id", "target"]])

    def bad(self, task) -> bytes:
        truth = answers(task)[["id", "target"]]
        return csv_bytes(truth.assign(target=truth["target"] + 5.0))

    def malformed(self, task) -> list[bytes]:
        truth = answers(task)[["id", "target"]]
        return [
            csv_bytes(truth.iloc[:-3]),
            csv_bytes(truth.drop(columns=["target"])),
            csv_bytes(truth.assign(target="not a number")),
        ]

    def held_out(self, task):
        frame = pd.read_csv(Path(task.root) / "private" / "answers.csv", dtype=str, keep_default_na=False)
        return frame, "id", ["target"]

    def test_it_is_scored_by_rmse_lower_is_better(self, task):
        grades = task.grade(self.perfect(task))
        assert (grades.metric, grades.lower_is_better) == ("rmse", True)
        assert grades.validation.score == pytest.approx(0.0) and grades.test.score == pytest.approx(0.0)


def test_the_entry_point_gives_this_plugin():
    assert task_plugins()["friedman"] is TASK


def test_a_request_names_the_kind_and_intake_records_the_plugin_form():
    request = parse_request('{"task": {"kind": "friedman", "rows": 500}}')
    assert request.task == PluginTask(name="friedman", params={"rows": 500})


@pytest.mark.parametrize(
    "task, field, reason",
    [
        ('{"kind": "friedman", "rows": 10}', "$.task.params.rows", ">= 200"),
        ('{"kind": "friedman", "rows": 2000000}', "$.task.params.rows", "at most 1,000,000 rows"),
        ('{"kind": "friedman", "noise": "loud"}', "$.task.params.noise", "Expected `float`"),
        ('{"kind": "friedman", "depth": 3}', "$.task.params.depth", "unknown field"),
    ],
)
def test_intake_names_the_parameter_at_fault(task, field, reason):
    with pytest.raises(FieldError) as caught:
        parse_request(f'{{"task": {task}}}')
    assert caught.value.field == field and reason in caught.value.reason
