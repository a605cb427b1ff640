"""`airad tasks --mlebench ROOT`: which of MLE-bench lite's competitions are prepared under ROOT, which
can be validated (and why not), which get medals; the ready ones as [[tasks]] for an experiment."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib

import pytest

from airad.tasks.competitions import COMPETITIONS
from airad.tasks.mlebench_check import check_competitions, tasks_toml
from tests.synthetic_competitions import aerial_cactus, tabular_playground


@pytest.fixture
def data_root(tmp_path):
    """MLE-bench's layout: <root>/<competition>/prepared/, leaderboards kept apart as in its repository."""
    root = tmp_path / "mle-bench-data"
    tabular_playground(root / "tabular-playground-series-may-2022" / "prepared")
    aerial_cactus(root / "aerial-cactus-identification" / "prepared")
    boards = tmp_path / "mlebench" / "competitions" / "tabular-playground-series-may-2022"
    boards.mkdir(parents=True)
    shutil.move(root / "tabular-playground-series-may-2022" / "prepared" / "leaderboard.csv", boards / "leaderboard.csv")
    broken = tabular_playground(root / "spooky-author-identification" / "prepared")
    (broken / "public" / "train.csv").unlink()
    return root


def test_every_competition_gets_a_row_saying_ready_or_why_not(data_root, tmp_path):
    rows = {row["competition"]: row for row in check_competitions(data_root, tmp_path / "mlebench" / "competitions")}
    assert set(rows) == set(COMPETITIONS) and len(rows) == 22
    playground = rows["tabular-playground-series-may-2022"]
    assert playground["status"] == "ready" and playground["medals"] and playground["leaderboard"].endswith("leaderboard.csv")
    cactus = rows["aerial-cactus-identification"]
    assert cactus["status"] == "ready" and not cactus["medals"], "no leaderboard anywhere: no medals"
    assert "harness-owned validation is not available" in rows["spooky-author-identification"]["status"]
    assert rows["leaf-classification"]["status"] == "not prepared" and rows["leaf-classification"]["data_dir"] is None

    tasks = tomllib.loads(tasks_toml(list(rows.values())))["tasks"]
    assert [t["competition"] for t in tasks] == ["aerial-cactus-identification", "tabular-playground-series-may-2022"]
    assert all(t["kind"] == "mlebench" for t in tasks) and "leaderboard" in tasks[1] and "leaderboard" not in tasks[0]


def airad(*args: str) -> subprocess.CompletedProcess:
    """The real command, in its own process (in-process, its logging setup would outlive the test)."""
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    return subprocess.run([sys.executable, "-m", "airad.cli", *args], env=env, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


def test_the_cli_prints_a_table_json_and_toml(data_root, tmp_path):
    boards = str(tmp_path / "mlebench" / "competitions")
    table = airad("tasks", "--mlebench", str(data_root), "--leaderboards", boards)
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].split() == ["COMPETITION", "METRIC", "MEDALS", "STATUS"]
    assert "2 of 22 ready" in table.stdout
    assert len(json.loads(airad("tasks", "--mlebench", str(data_root), "--json").stdout)) == 22
    toml = airad("tasks", "--mlebench", str(data_root), "--leaderboards", boards, "--toml").stdout
    assert len(tomllib.loads(toml)["tasks"]) == 2
    missing = airad("tasks", "--mlebench", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "no such folder" in missing.stderr
