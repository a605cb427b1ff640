"""`airad report` as a user runs it: two seeds of one task through the real CLI, then the report."""

import json

import pytest

from tests.conftest import require
from tests.integration.test_cli import airad

pytestmark = pytest.mark.integration

WINE_RUN = """
run_id = "wine-s{seed}"
seed = {seed}
labels = {{ sweep = "report-test" }}
[task]
kind = "bundled"
name = "wine"
[policy]
kind = "greedy"
num_drafts = 2
[budget]
max_nodes = 2
"""


def test_report_aggregates_two_seeds(tmp_path, monkeypatch):
    require("bwrap")
    monkeypatch.setenv("AIRAD_REFERENCE_BASELINES", "true")  # the daemon's default, off elsewhere in the tests
    state = tmp_path / "state"
    for seed in (0, 1):
        request = tmp_path / f"wine{seed}.toml"
        request.write_text(WINE_RUN.format(seed=seed))
        done = airad("run", str(request), state_dir=state)
        assert done.returncode == 0, done.stderr
        assert "baselines (validation / test accuracy): majority label" in done.stdout, done.stdout

    result = airad("report", "--json", state_dir=state)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    [group] = report["groups"]
    assert (group["task"], group["policy"], group["runs"], group["seeds"]) == ("wine", "greedy", 2, [0, 1])
    assert group["metric"] == "accuracy" and group["any_medal_pct"] == {}
    for field in ("chosen_test", "oracle_test", "gap", "overfitting"):
        assert set(group[field]) == {"mean", "sem", "n"} and group[field]["n"] == 2
        assert group[field]["sem"] >= 0
    assert group["gap"]["mean"] >= 0
    runs = {r["run_id"]: r for r in report["runs"]}
    assert set(runs) == {"wine-s0", "wine-s1"}
    for run in runs.values():
        assert run["nodes"] == 2 and run["labels"] == {"sweep": "report-test"}
        chosen, oracle = run["chosen"], run["oracle"]
        assert chosen["validation"] is not None and chosen["test"] is not None and chosen["medal"] is None
        assert oracle["test"] >= chosen["test"]
        assert run["gap"] == pytest.approx(oracle["test"] - chosen["test"])
        assert run["overfitting"] == pytest.approx(chosen["validation"] - chosen["test"])
        assert [b["name"] for b in run["baselines"]] == ["majority label", "gradient boosting"]
        assert all(b["validation"] is not None and b["test"] is not None for b in run["baselines"])
    tests = [runs[r]["chosen"]["test"] for r in ("wine-s0", "wine-s1")]
    assert group["chosen_test"]["mean"] == pytest.approx(sum(tests) / 2)
    assert group["chosen_test"]["sem"] == pytest.approx(abs(tests[0] - tests[1]) / 2)

    table = airad("report", "wine-s1", state_dir=state)
    assert table.returncode == 0, table.stderr
    assert "CHOSEN TEST" in table.stdout and "wine-s1" in table.stdout and "wine-s0" not in table.stdout
    assert "BASELINE TEST" in table.stdout and "(gradient boosting)" in table.stdout

    rows = airad("report", "--csv", "--label", "sweep=report-test", state_dir=state).stdout.splitlines()
    assert rows[0].startswith("run_id,task,policy,seed") and len(rows) == 3

    none = json.loads(airad("report", "--json", "--task", "breast-cancer", state_dir=state).stdout)
    assert none == {"groups": [], "runs": []}
    bad = airad("report", "--label", "sweep", state_dir=state)
    assert bad.returncode == 2 and "KEY=VALUE" in bad.stderr
    missing = airad("report", "nope", state_dir=state)
    assert missing.returncode == 1 and "no run 'nope'" in missing.stderr
