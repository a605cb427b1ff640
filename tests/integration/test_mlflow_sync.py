"""Runs mirrored into a local MLflow file store, read back with MLflow's own client (in a fresh process, with
only what `airad mlflow-sync` says to set)."""

import json
import os
import re
import subprocess
import sys
import time

import pytest

from airad import Client
from airad.events.fold import RunState, fold
from airad.events.jetstream import JetStreamEventLog
from airad.tracking.mlflow_mapping import CURSOR_TAG, RUN_ID_TAG
from airad.tracking.mlflow_sink import MlflowSink, mirror_to_mlflow
from tests.conftest import require
from tests.integration.daemon_process import DaemonProcess
from tests.replay.make_golden import load

pytestmark = pytest.mark.integration

WINE = {"run_id": "wine-mlflow", "task": {"kind": "bundled", "name": "wine"}, "seed": 4,
        "policy": {"kind": "greedy", "num_drafts": 2}, "budget": {"max_nodes": 2}, "labels": {"study": "sync"}}
NODE_METRICS = ("validation_score", "test_score", "cost_usd", "tokens", "buggy", "exit_code", "duration_s")


@pytest.fixture
def mlflow_client(monkeypatch):
    """MLflow's client for a tracking URI; file stores allowed, as the sink allows them."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    from mlflow.tracking import MlflowClient

    return MlflowClient


def the_run(client, name: str = "wine-mlflow"):
    experiment = client.get_experiment_by_name("airad")
    runs = client.search_runs([experiment.experiment_id], filter_string=f"tags.`{RUN_ID_TAG}` = '{name}'")
    assert len(runs) == 1, runs
    return runs[0]


def history(client, mlflow_run_id: str, key: str) -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in client.get_metric_history(mlflow_run_id, key))


def assert_mirrors(client, state: RunState) -> None:
    run = the_run(client)
    assert run.info.status == "FINISHED" and run.info.run_name == "wine-mlflow"
    assert run.data.params == {"task": "wine", "task_kind": "bundled", "policy": "greedy", "model": "airad-offline/coder",
                               "seed": "4", "executor": "local", "max_nodes": "2"}
    assert run.data.tags["label.study"] == "sync" and run.data.tags[CURSOR_TAG] == str(state.last_seq)
    assert run.data.tags["airad.metric"] == "accuracy" and run.data.tags["airad.status"] == "finished"
    nodes = state.nodes
    mlflow_id = run.info.run_id
    assert history(client, mlflow_id, "validation_score") == [(n.id, n.score) for n in nodes if n.valid]
    assert history(client, mlflow_id, "test_score") == [(n.id, n.test_score) for n in nodes if n.test_score is not None]
    assert history(client, mlflow_id, "tokens") == [(n.id, n.tokens) for n in nodes]
    assert history(client, mlflow_id, "cost_usd") == [(n.id, n.cost_usd) for n in nodes]
    assert history(client, mlflow_id, "buggy") == [(n.id, float(n.buggy)) for n in nodes]
    assert history(client, mlflow_id, "exit_code") == [(n.id, n.exit_code) for n in nodes if n.exit_code is not None]
    best = state.best_node()
    if best is not None:
        assert run.data.tags["airad.best_node_id"] == str(best.id)
        assert history(client, mlflow_id, "best_validation_score") == [(0, best.score)]
        assert history(client, mlflow_id, "best_test_score") == [(0, best.test_score)]
    assert history(client, mlflow_id, "nodes") == [(0, 2.0)]


def mlflow_sync_cli(nats_url: str, uri: str, state_dir) -> dict:
    env = {**os.environ, "AIRAD_STATE_DIR": str(state_dir), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    done = subprocess.run(
        [sys.executable, "-m", "airad.cli", "--nats", nats_url, "mlflow-sync", "--tracking-uri", uri, "--once", "--json"],
        env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


async def test_a_run_mirrored_by_the_daemon_setting_and_by_mlflow_sync(nats_url, tmp_path, mlflow_client):
    require("bwrap")
    by_daemon = (tmp_path / "daemon-mlruns").as_uri()
    by_command = (tmp_path / "command-mlruns").as_uri()
    daemon = DaemonProcess(nats_url, tmp_path / "state", env={"AIRAD_MLFLOW_TRACKING_URI": by_daemon}).start()
    try:
        async with Client(nats_url) as client:
            state = await client.wait(await client.submit(WINE))
            assert state.status == "finished"

            sink = MlflowSink.open(by_command)
            first = await mirror_to_mlflow(client.js, sink, follow=False)
            assert (first.read, first.written, first.runs, first.failed) == (state.last_seq, state.last_seq, 1, ())
            assert_mirrors(mlflow_client(by_command), state)

            again = mlflow_sync_cli(nats_url, by_command, tmp_path / "cli")
            assert again == {"read": state.last_seq, "written": 0, "runs": 1, "failed": []}
            assert_mirrors(mlflow_client(by_command), state)

            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                experiment = mlflow_client(by_daemon).get_experiment_by_name("airad")
                runs = experiment and mlflow_client(by_daemon).search_runs([experiment.experiment_id])
                if runs and runs[0].data.tags.get(CURSOR_TAG) == str(state.last_seq):
                    break
                time.sleep(0.2)
            assert_mirrors(mlflow_client(by_daemon), state)
    finally:
        daemon.stop()
    assert "Traceback" not in daemon.log_text()


def test_mlflow_sync_wants_a_tracking_uri(tmp_path):
    env = {**os.environ, "AIRAD_STATE_DIR": str(tmp_path), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    done = subprocess.run([sys.executable, "-m", "airad.cli", "mlflow-sync", "--once"], env=env, capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 2 and "--tracking-uri" in done.stderr


READ_BACK = """
import json, sys
from mlflow.tracking import MlflowClient
client = MlflowClient(tracking_uri=sys.argv[1])
experiment = client.get_experiment_by_name("airad")
[run] = client.search_runs([experiment.experiment_id])
history = client.get_metric_history(run.info.run_id, "validation_score")
print(json.dumps({"name": run.info.run_name, "status": run.info.status,
                  "validation_score": sorted((m.step, m.value) for m in history)}))
"""


def read_back(uri: str, assignments: list[str]) -> subprocess.CompletedProcess:
    """MLflow's own client in a fresh process whose environment has no MLFLOW_ variable but `assignments`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("MLFLOW_")}
    env.update(assignment.split("=", 1) for assignment in assignments)
    return subprocess.run([sys.executable, "-c", READ_BACK, uri], env=env, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


async def test_the_store_written_reads_back_with_what_mlflow_sync_prints(nats_url, js, tmp_path):
    events = load("greedy")
    log = JetStreamEventLog(js)
    for event in events:
        await log.append(event)
    env = {**os.environ, "AIRAD_STATE_DIR": str(tmp_path / "cli"), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    directory = tmp_path / "mlruns"
    sync = ["mlflow-sync", "--tracking-uri", str(directory), "--once"]
    done = subprocess.run(
        [sys.executable, "-m", "airad.cli", "--nats", nats_url, *sync],
        env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    uri = directory.as_uri()
    assert f'then MlflowClient(tracking_uri="{uri}")' in done.stderr, done.stderr
    assignments = re.findall(r"export (\S+=\S+),", done.stderr)
    assert assignments == ["MLFLOW_ALLOW_FILE_STORE=true"]

    refused = read_back(uri, [])
    assert refused.returncode != 0 and "MLFLOW_ALLOW_FILE_STORE" in refused.stderr, "the note is needed"
    read = read_back(uri, assignments)
    assert read.returncode == 0, read.stderr
    state = fold(events)
    assert json.loads(read.stdout) == {
        "name": state.run_id, "status": "FINISHED",
        "validation_score": [[n.id, n.score] for n in state.nodes if n.valid],
    }
