"""`airad export` and `airad import` as a user runs them: a real run, exported, imported into another state dir."""

import base64
import json

import nats
import pytest

from airad.daemon.nats_server import EmbeddedNats
from airad.events.jetstream import JetStreamBlobStore
from tests.conftest import require
from tests.infra.chromium import dump_dom, read_dom
from tests.integration.test_cli import airad

pytestmark = pytest.mark.integration

WINE_RUN = """
seed = 1
[task]
kind = "bundled"
name = "wine"
[budget]
max_nodes = 2
"""


def _ok(result):
    assert result.returncode == 0, result.stderr
    return result.stdout


async def _blob(state_dir, ref: str) -> bytes:
    server = EmbeddedNats(state_dir)
    nc = await nats.connect(server.start())
    try:
        return await (await JetStreamBlobStore.open(nc.jetstream())).get(ref)
    finally:
        await nc.close()
        server.stop()


async def test_export_import_into_a_fresh_state_dir_keeps_nodes_scores_and_blobs(tmp_path):
    require("bwrap")
    request = tmp_path / "wine.toml"
    request.write_text(WINE_RUN)
    source, target = tmp_path / "source", tmp_path / "target"
    _ok(airad("run", str(request), state_dir=source))

    exported = json.loads(_ok(airad("export", "req-1", "-o", str(tmp_path / "req-1.jsonl"), "--json",
                                    state_dir=source)))
    lines = [json.loads(line) for line in (tmp_path / "req-1.jsonl").read_text().splitlines()]
    assert lines[0]["kind"] == "header" and lines[0]["run_id"] == "req-1"
    assert exported["events"] == lines[0]["events"] and exported["blobs"] == lines[0]["blobs"] > 0

    # req-N ids belong to the target's own request stream: the import renames it
    imported = json.loads(_ok(airad("import", str(tmp_path / "req-1.jsonl"), "--json", state_dir=target)))
    assert imported == {"run_id": "imported-req-1", "events": exported["events"], "status": "finished"}
    original = json.loads(_ok(airad("show", "req-1", "--json", state_dir=source)))
    copy = json.loads(_ok(airad("show", "imported-req-1", "--json", state_dir=target)))
    assert {**copy, "run_id": "req-1"} == original
    assert len(copy["nodes"]) == 2 and any(n["score"] is not None for n in copy["nodes"])
    [summary] = json.loads(_ok(airad("runs", "--json", state_dir=target)))
    assert summary["run_id"] == "imported-req-1" and summary["status"] == "finished" and summary["nodes"] == 2
    # the target's first request is numbered 1 too: it gets its own run, never the imported one's
    fresh = json.loads(_ok(airad("run", str(request), "--json", state_dir=target)))
    assert fresh["run_id"] == "req-1" and fresh["status"] == "finished"
    assert {s["run_id"] for s in json.loads(_ok(airad("runs", "--json", state_dir=target)))} == {"req-1", "imported-req-1"}

    executed = next(json.loads(line) for line in _ok(airad("events", "imported-req-1", "--json", state_dir=target)).splitlines()
                    if json.loads(line)["type"] == "node.executed")
    stdout = await _blob(target, executed["stdout_ref"])
    in_file = next(base64.b64decode(b["data"]) for b in lines
                   if b["kind"] == "blob" and b["ref"] == executed["stdout_ref"])
    assert stdout == in_file and stdout.decode().endswith(executed["stdout_tail"])

    again = airad("import", str(tmp_path / "req-1.jsonl"), state_dir=target)
    assert again.returncode == 1 and "run 'imported-req-1' already has" in again.stderr
    taken = airad("import", str(tmp_path / "req-1.jsonl"), "--run-id", "req-7", state_dir=target)
    assert taken.returncode == 2 and "req-N are given by this log's intake" in taken.stderr
    renamed = _ok(airad("import", str(tmp_path / "req-1.jsonl"), "--run-id", "copy-1", state_dir=target))
    assert "imported run copy-1" in renamed
    copy_1 = json.loads(_ok(airad("show", "copy-1", "--json", state_dir=target)))
    assert copy_1["run_id"] == "copy-1" and copy_1["nodes"] == original["nodes"]

    aide_dir = tmp_path / "aide"
    _ok(airad("export", "imported-req-1", "--format", "aide", "-o", str(aide_dir), state_dir=target))
    journal = json.loads((aide_dir / "journal.json").read_text())
    assert [n["step"] for n in journal["nodes"]] == [0, 1]
    scores = [n["score"] if n["valid"] else None for n in original["nodes"]]
    assert [n["metric"]["value"] for n in journal["nodes"]] == scores
    best = original["best_node_id"]
    assert (aide_dir / "best_solution.py").read_text() == original["nodes"][best]["code"]
    dom = read_dom(dump_dom(aide_dir / "tree.html", tmp_path / "profile"))
    assert [n["data-node-id"] for n in dom.nodes] == ["0", "1"]
    assert dom.by_id["details"]["data-shown-node"] == str(best)


def test_import_errors_are_clear(tmp_path):
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"kind":"header","format":"airad-run","version":1,"run_id":"x","events":1,"blobs":0,"exported_at":0}\n{oops\n')
    result = airad("import", str(broken), state_dir=tmp_path / "s")
    assert result.returncode == 2 and "broken.jsonl: line 2:" in result.stderr
    missing = airad("import", str(tmp_path / "nope.jsonl"), state_dir=tmp_path / "s")
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    unknown = airad("export", "no-such-run", "-o", str(tmp_path / "x.jsonl"), state_dir=tmp_path / "s")
    assert unknown.returncode == 1 and "no run 'no-such-run'" in unknown.stderr
