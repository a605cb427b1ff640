"""A run's domain is in its summary, in `airad runs` (a column only when some run has one), and in
its MLflow params."""

import msgspec

from airad.cli.output import runs_table
from airad.events.fold import fold
from airad.events.log import RunSummary
from airad.reports.summary import summarize
from airad.schemas.request import BundledTask, RunRequest
from airad.tracking.mlflow_mapping import run_params
from tests.factories import History

IN_DOMAIN = RunRequest(task=BundledTask(name="wine"), domain="wine-quality")


def test_the_summary_and_the_mlflow_params_carry_the_domain():
    assert summarize(fold(History("a", IN_DOMAIN).events), 0.0).domain == "wine-quality"
    assert summarize(fold(History("b").events), 0.0).domain == ""
    assert run_params(IN_DOMAIN)["domain"] == "wine-quality"
    assert "domain" not in run_params(msgspec.structs.replace(IN_DOMAIN, domain=None))


def test_runs_table_has_a_domain_column_only_when_a_run_has_a_domain():
    plain = RunSummary(run_id="b", status="running", task="wine", policy="greedy")
    assert "DOMAIN" not in runs_table([plain], now=0.0)
    header, first, second = runs_table([RunSummary(run_id="a", status="running", task="wine", policy="greedy",
                                                   domain="wine-quality"), plain], now=0.0).splitlines()
    assert header.split()[:4] == ["RUN", "STATUS", "TASK", "DOMAIN"]
    assert first.split()[:5] == ["a", "running", "wine", "wine-quality", "greedy"]
    assert second.split()[:5] == ["b", "running", "wine", "-", "greedy"]
