"""Regenerate golden event logs: `python -m tests.replay.make_golden [POLICY ...]`, then review the diff.

Each runs a real search (offline coder, local executor, bundled task) against the in-memory log
and writes its events as JSON lines plus the folded state they must always produce.
`--refold` only rewrites the state files from the committed logs (after the schema grew).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import anyio
import msgspec

from airad.daemon.llm import LiteLLMClient
from airad.daemon.runner import drive_run
from airad.daemon.run_services import RunServices
from airad.events.fold import fold
from airad.events.in_memory import InMemoryBlobStore, InMemoryEventLog, InMemoryRunIndex
from airad.executors.local import LocalExecutor
from airad.schemas.events import RunSubmitted, decode_event, encode_event
from airad.schemas.policies import AiraGreedyPolicy, EvolutionaryPolicy, GreedyPolicy, MctsPolicy
from airad.schemas.request import Budget, BundledTask, RunRequest

HERE = Path(__file__).parent
POLICIES = {
    "greedy": (GreedyPolicy(num_drafts=3, debug_prob=0.5, max_debug_depth=2), "breast-cancer", 11, 10),
    "aira_greedy": (AiraGreedyPolicy(num_drafts=3, debug_prob=0.5, max_debug_depth=3), "wine", 12, 10),
    "mcts": (MctsPolicy(num_children=3, max_debug_depth=2), "wine", 13, 12),
    "evolutionary": (
        EvolutionaryPolicy(individuals_per_generation=3, crossover_warmup_generations=1, num_islands=1, parallel=2),
        "breast-cancer", 14, 12,
    ),
}


def log_path(name: str) -> Path:
    """Where the golden log of a policy lives."""
    return HERE / f"golden_{name}.jsonl"


def state_path(name: str) -> Path:
    """Where the folded state of a policy's golden log lives."""
    return HERE / f"golden_{name}.state.json"


def load(name: str) -> list:
    """The events of a committed golden log."""
    return [decode_event(line) for line in log_path(name).read_bytes().splitlines()]


def write_state(name: str, events: list) -> None:
    """Commit the fold of `events` as the expected state."""
    state_path(name).write_bytes(msgspec.json.format(msgspec.json.encode(fold(events)), indent=1) + b"\n")


async def record(name: str) -> None:
    """Run a real search for `name` and write its golden log and state."""
    policy, task, seed, max_nodes = POLICIES[name]
    run_id = f"golden-{name.replace('_', '-')}"
    request = RunRequest(task=BundledTask(name=task), policy=policy, budget=Budget(max_nodes=max_nodes),
                         seed=seed, run_id=run_id)
    log = InMemoryEventLog()
    await log.append(RunSubmitted(run_id=run_id, seq=1, at=time.time(), request=request))
    with tempfile.TemporaryDirectory() as tmp:
        services = RunServices(
            log=log, blobs=InMemoryBlobStore(), index=InMemoryRunIndex(), llm=LiteLLMClient(),
            executors={"local": LocalExecutor(Path(tmp) / "work", hidden=(Path(tmp).resolve(),))},
            limiters={"local": anyio.CapacityLimiter(2)}, tasks_root=Path(tmp) / "tasks", owner="golden",
        )
        await drive_run(services, run_id)
    events = await log.read(run_id)
    log_path(name).write_bytes(b"".join(encode_event(e) + b"\n" for e in events))
    write_state(name, events)
    print(f"wrote {len(events)} events to {log_path(name)}")


def main(args: list[str]) -> None:
    if args[:1] == ["--refold"]:
        for name in args[1:] or [n for n in POLICIES if log_path(n).exists()]:
            write_state(name, load(name))
        return
    for name in args or list(POLICIES):
        anyio.run(record, name)


if __name__ == "__main__":
    main(sys.argv[1:])
