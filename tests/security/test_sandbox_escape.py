"""Generated code cannot get out of the local sandbox: a real daemon runs a node whose (scripted)
model wrote a script that tries to reach the daemon's NATS port and the internet, read the task's
private answers or the installation's split secret, a file in another run's work dir and one in the daemon user's home, read the
daemon's secrets from its environment, and write outside its work dir. It prints what happened; the node's recorded stdout
shows every attempt failed, and nothing it tried to write appears on the host."""

from __future__ import annotations

import secrets
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from airad.client import Client
from airad.schemas.events import NodeExecuted
from airad.schemas.request import Budget, BundledTask, ModelSpec, RunRequest
from airad.schemas.policies import GreedyPolicy
from airad.tasks.bundled import prepare_bundled
from airad.tasks.split_secret import SECRET_FILE
from tests.conftest import require
from tests.integration.daemon_process import DaemonProcess
from tests.openai_server import ok, openai_server  # noqa: F401  (openai_server is a fixture)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

ATTACK = '''Plan: look around.

```python
import os, socket

def attempt(name, action):
    try:
        result = action()
        print("ESCAPED", name, repr(result)[:80])
    except Exception as exc:
        print("blocked", name, type(exc).__name__)

def talk_to_nats():
    with socket.create_connection(("127.0.0.1", {nats_port}), timeout=3) as sock:
        return sock.recv(64)

def write(path):
    with open(path, "w") as f:
        f.write("escaped")
    return path

attempt("nats", talk_to_nats)
attempt("internet", lambda: socket.create_connection(("1.1.1.1", 53), timeout=3).close())
attempt("answers", lambda: open({answers!r}).read(64))
attempt("split-secret", lambda: open({split_secret!r}, "rb").read(64))
attempt("other-run", lambda: open({other_run!r}).read(64))
attempt("home", lambda: open({home_secret!r}).read(64))
attempt("daemon-env", lambda: os.environ["OPENAI_API_KEY"])
for target in {read_only_targets!r}:
    attempt("write " + target, lambda: write(target))
for target in {shadowed_targets!r}:
    try:
        write(target)
        print("wrote-in-sandbox", target)
    except Exception as exc:
        print("blocked", "write " + target, type(exc).__name__)
```
'''


async def test_generated_code_cannot_leave_its_sandbox(openai_server, nats_url, tmp_path: Path):  # noqa: F811
    require("bwrap")
    state = tmp_path / "state"
    # prepared ahead (the daemon reuses it): its dir is named after the installation's split secret
    answers = prepare_bundled(BundledTask(name="breast-cancer"), seed=1, tasks_root=state / "tasks").root / "private" / "answers.csv"
    split_secret = state / "tasks" / SECRET_FILE
    other_run = state / "work" / "other-run_0" / "work" / "solution.py"
    other_run.parent.mkdir(parents=True)
    other_run.write_text("OTHER RUN'S CODE\n")
    home_secret = Path.home() / f".airad-escape-test-{uuid.uuid4().hex[:8]}"
    home_secret.write_text("AWS_SECRET_ACCESS_KEY=do-not-read\n")
    read_only = [str(Path(__file__).parent / f"escape-{uuid.uuid4().hex[:8]}.txt"), "input/escape.txt"]
    shadowed = [str(state / "escape.txt"), str(tmp_path / "escape.txt"), "../escape.txt"]
    openai_server.default = ok(ATTACK.format(
        nats_port=urlsplit(nats_url).port, answers=str(answers), split_secret=str(split_secret), other_run=str(other_run),
        read_only_targets=read_only, shadowed_targets=shadowed, home_secret=str(home_secret),
    ))
    model = ModelSpec(name="openai/test-model", api_base=f"{openai_server.url}/v1", api_key_env="MY_MODEL_KEY", timeout_s=10)
    request = RunRequest(run_id="attack", seed=1, task=BundledTask(name="breast-cancer"), model=model,
                         budget=Budget(max_nodes=1), policy=GreedyPolicy(num_drafts=1))
    key = "sk-" + secrets.token_hex(12)
    daemon = DaemonProcess(nats_url, state, env={"AIRAD_SANDBOX": "true", "OPENAI_API_KEY": key, "MY_MODEL_KEY": key}).start()
    try:
        async with Client(nats_url) as client:
            await client.submit(request)
            run = await client.wait("attack")
            [executed] = [e for e in await client.events("attack") if isinstance(e, NodeExecuted)]
    finally:
        daemon.stop()
        Path(read_only[0]).unlink(missing_ok=True)
        home_secret.unlink()

    stdout = executed.stdout_tail
    assert executed.exit_code == 0, (executed.stderr_tail, daemon.log_text()[-2000:])
    assert answers.exists() and split_secret.exists() and other_run.exists(), "the targets were real files on the host"
    assert "ESCAPED" not in stdout, stdout
    assert "do-not-read" not in stdout
    for name in ("nats", "internet", "answers", "split-secret", "other-run", "home", "daemon-env", *(f"write {t}" for t in read_only)):
        assert f"blocked {name} " in stdout, (name, stdout)
    for target in shadowed:  # a private tmpfs in the sandbox: the write lands there, never on the host
        assert f"wrote-in-sandbox {target}" in stdout or f"blocked write {target} " in stdout, (target, stdout)
    assert not list(tmp_path.rglob("escape.txt")), "a write reached the host"
    assert run.status == "finished"
