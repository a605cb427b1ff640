"""Regenerate the golden event log: `python -m tests.replay.make_golden` (then review the diff).

It runs a real search (offline coder, local executor, bundled task) against the in-memory log
and writes its events as JSON lines plus the folded state they must always produce.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import anyio
import msgspec

from airad.daemon.llm import LiteLLMClient
from airad.daemon.runner import drive_run
from airad.daemon.writer import RunServices
from airad.events.fold import fold
from airad.events.memory import InMemoryBlobStore, InMemoryEventLog, InMemoryRunIndex
from airad.executors.local import LocalExecutor
from airad.schemas.events import RunSubmitted, encode_event
from airad.schemas.request import Budget, BundledTask, GreedyPolicy, RunRequest

HERE = Path(__file__).parent
GOLDEN = HERE / "golden_greedy.jsonl"
GOLDEN_STATE = HERE / "golden_greedy.state.json"
REQUEST = RunRequest(
    task=BundledTask(name="breast-cancer"),
    policy=GreedyPolicy(num_drafts=3, debug_prob=0.5, max_debug_depth=2),
    budget=Budget(max_nodes=10),
    seed=11,
    run_id="golden-greedy",
)


async def main() -> None:
    log = InMemoryEventLog()
    await log.append(RunSubmitted(run_id="golden-greedy", seq=1, at=time.time(), request=REQUEST))
    with tempfile.TemporaryDirectory() as tmp:
        services = RunServices(
            log=log, blobs=InMemoryBlobStore(), index=InMemoryRunIndex(), llm=LiteLLMClient(),
            executors={"local": LocalExecutor(Path(tmp) / "work", hidden=(Path(tmp).resolve(),))},
            limiters={"local": anyio.CapacityLimiter(1)}, tasks_root=Path(tmp) / "tasks", owner="golden",
        )
        await drive_run(services, "golden-greedy")
    events = await log.read("golden-greedy")
    GOLDEN.write_bytes(b"".join(encode_event(e) + b"\n" for e in events))
    GOLDEN_STATE.write_bytes(msgspec.json.format(msgspec.json.encode(fold(events)), indent=1) + b"\n")
    print(f"wrote {len(events)} events to {GOLDEN}")


if __name__ == "__main__":
    anyio.run(main)
