"""A small finished run whose events reference real blobs, for the export tests."""

from __future__ import annotations

from airad.events.in_memory import InMemoryBlobStore, InMemoryEventLog
from airad.schemas.events import (
    NodeAnalyzed,
    NodeExecuted,
    NodeFailed,
    NodeGenerated,
    NodeScored,
    NodeSelected,
    NodeTested,
    RunFinished,
    RunStarted,
)
from airad.schemas.request import BundledTask, RunRequest
from tests.factories import History

TRACEBACK = 'Traceback (most recent call last):\n  File "solution.py", line 3\nValueError: could not convert "x"\n'
HOSTILE_CODE = 'print("</script><script>alert(1)</script>")\n'


async def recorded_run(blobs: InMemoryBlobStore, run_id: str = "r1", request_run_id: str | None = None) -> list:
    """Four nodes: a valid draft (the best), a buggy debug child, a valid improve, a crossover that failed to generate."""
    request = RunRequest(task=BundledTask(name="wine"), run_id=request_run_id)
    h = History(run_id, request=request)
    h.add(RunStarted, owner="d1")
    specs = [
        (0, "draft", (), 0, 0.93, "draft plan: a random forest", "import sklearn\nprint('fit')\n"),
        (1, "debug", (0,), 1, None, "debug plan", "raise ValueError('x')\n"),
        (2, "improve", (0,), 0, 0.91, "improve plan: more trees", HOSTILE_CODE),
    ]
    for node_id, operator, parents, exit_code, score, plan, code in specs:
        h.add(NodeSelected, node_id=node_id, operator=operator, parent_ids=parents)
        h.add(NodeGenerated, node_id=node_id, plan=plan, code=code, model="offline",
              prompt_ref=await blobs.put(f"prompt {node_id}".encode()),
              completion_ref=await blobs.put(f"completion {node_id}".encode()), prompt_tokens=10, completion_tokens=20)
        stdout = f"full stdout of node {node_id}\n" * 3
        stderr = TRACEBACK if exit_code else ""
        outputs = {"submission.csv": await blobs.put(b"id,label\n1,0\n")} if score is not None else {}
        h.add(NodeExecuted, node_id=node_id, exit_code=exit_code, duration_s=2.5 + node_id,
              stdout_tail=stdout[-20:], stderr_tail=stderr, stdout_ref=await blobs.put(stdout.encode()),
              stderr_ref=await blobs.put(stderr.encode()) if stderr else "", outputs=outputs)
        h.add(NodeScored, node_id=node_id, metric="accuracy", lower_is_better=False, valid=score is not None,
              score=score, error="" if score is not None else "no predictions written")
        h.add(NodeTested, node_id=node_id, score=None if score is None else score - 0.02)
        h.add(NodeAnalyzed, node_id=node_id, summary=f"review of node {node_id}", is_bug=score is None,
              metric=score, via="json", completion_ref=await blobs.put(f"review {node_id}".encode()))
    h.add(NodeSelected, node_id=3, operator="crossover", parent_ids=(0, 2))
    h.add(NodeFailed, node_id=3, stage="generate", reason="no code block in the answer")
    h.add(RunFinished, reason="max_nodes", best_node_id=0)
    return h.events


async def stored_run(run_id: str = "r1", **kwargs) -> tuple[InMemoryEventLog, InMemoryBlobStore, list]:
    """An in-memory log and blob store holding `recorded_run`."""
    log, blobs = InMemoryEventLog(), InMemoryBlobStore()
    events = await recorded_run(blobs, run_id, **kwargs)
    for event in events:
        await log.append(event)
    return log, blobs, events
