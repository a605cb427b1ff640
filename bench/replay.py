"""How fast the fold replays a log: `python bench/replay.py [--events 1000000] [--nodes 20]`.

Builds about `--events` events of many synthetic runs (`--nodes` nodes each: a node's whole lifecycle,
selected, generated, queued, dispatched, executed, scored, tested, about one in eight buggy, made with
the event structs), interleaves the runs as a live tail of `airad.events.>` would see them, encodes
each event to JSON as the log holds it, then times:

- decode + fold: `decode_event` of each message and `evolve` into its run's state (what resume,
  the TUI and every report do), and
- fold alone: `evolve` of already-decoded events.
"""

from __future__ import annotations

import argparse
import random
import time

from airad.events.fold import RunState, evolve
from airad.schemas.events import (
    NodeDispatched,
    NodeExecuted,
    NodeGenerated,
    NodeQueued,
    NodeScored,
    NodeSelected,
    NodeTested,
    RunFinished,
    RunStarted,
    RunSubmitted,
    decode_event,
    encode_event,
)
from airad.schemas.policies import GreedyPolicy
from airad.schemas.request import Budget, BundledTask, RunRequest

CODE = "\n".join(
    ["import numpy as np", "import pandas as pd", "from sklearn.ensemble import RandomForestClassifier", ""]
    + [f"PARAM_{k} = {k * 37 % 500}" for k in range(12)]
    + ["train = pd.read_csv('input/train.csv')", "model = RandomForestClassifier(n_estimators=300)",
       "model.fit(train.drop(columns=['target']), train['target'])", "print('Validation metric: 0.93')"]
) + "\n"


def run_events(run_id: str, nodes: int, rng: random.Random) -> list:
    """One finished greedy run of `nodes` nodes, as the daemon appends it."""
    events: list = []

    def add(event_type, **fields) -> None:
        events.append(event_type(run_id=run_id, seq=len(events) + 1, at=1_000_000.0 + len(events) * 0.5, **fields))

    request = RunRequest(task=BundledTask(name="wine"), policy=GreedyPolicy(num_drafts=5), seed=rng.randrange(1000),
                         budget=Budget(max_nodes=nodes), run_id=run_id)
    add(RunSubmitted, request=request, request_seq=rng.randrange(10**6))
    add(RunStarted, owner="bench-daemon")
    for i in range(nodes):
        operator, parents = ("draft", ()) if i < 5 else (rng.choice(["improve", "improve", "debug"]), (rng.randrange(i),))
        buggy = rng.random() < 0.125
        add(NodeSelected, node_id=i, operator=operator, parent_ids=parents)
        add(NodeGenerated, node_id=i, plan=f"Plan of node {i}: change one thing.", code=CODE, model="m",
            prompt_ref="p" * 64, completion_ref="c" * 64, prompt_tokens=900, completion_tokens=300, cost_usd=0.002)
        add(NodeQueued, node_id=i, executor="local", waiting=rng.randrange(10))
        add(NodeDispatched, node_id=i, executor="local", handle=f"{run_id}/{i}")
        add(NodeExecuted, node_id=i, exit_code=1 if buggy else 0, duration_s=rng.uniform(1, 30),
            stdout_tail="epoch 1\nepoch 2\nValidation metric: 0.93\n", stderr_tail="Traceback: boom\n" if buggy else "",
            stdout_ref="o" * 64, stderr_ref="e" * 64, outputs={"submission/submission.csv": "s" * 64})
        add(NodeScored, node_id=i, metric="accuracy", lower_is_better=False, valid=not buggy,
            score=None if buggy else rng.uniform(0.5, 1.0), error="exit 1" if buggy else "")
        add(NodeTested, node_id=i, score=None if buggy else rng.uniform(0.5, 1.0))
    add(RunFinished, reason="max_nodes", best_node_id=0, detail=f"{nodes} nodes")
    return events


def interleaved(total: int, nodes: int, seed: int = 0) -> list:
    """About `total` events of runs of `nodes` nodes, interleaved at random as concurrent runs append them."""
    rng = random.Random(seed)
    per_run = 3 + 7 * nodes
    runs = [run_events(f"run-{r:06d}", nodes, rng) for r in range(max(1, total // per_run))]
    cursors = [0] * len(runs)
    live = list(range(len(runs)))
    out: list = []
    while live:
        k = rng.randrange(len(live))
        r = live[k]
        out.append(runs[r][cursors[r]])
        cursors[r] += 1
        if cursors[r] == len(runs[r]):
            live[k] = live[-1]
            live.pop()
    return out


def fold_all(events) -> dict[str, RunState]:
    """Fold an interleaved stream of events into one state per run."""
    states: dict[str, RunState] = {}
    for event in events:
        state = states.get(event.run_id)
        states[event.run_id] = evolve(state if state is not None else RunState(event.run_id), event)
    return states


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--nodes", type=int, default=20, help="nodes per run")
    args = parser.parse_args()

    start = time.perf_counter()
    events = interleaved(args.events, args.nodes)
    wire = [encode_event(e) for e in events]
    runs = len({e.run_id for e in events})
    print(f"built {len(events):,} events of {runs:,} runs ({args.nodes} nodes each), "
          f"{sum(map(len, wire)) / len(wire):.0f} bytes each on average, in {time.perf_counter() - start:.1f} s")

    start = time.perf_counter()
    states = fold_all(decode_event(data) for data in wire)
    decode_fold = time.perf_counter() - start
    assert len(states) == runs and all(s.terminal for s in states.values())

    start = time.perf_counter()
    again = fold_all(events)
    fold_only = time.perf_counter() - start
    assert again == states

    print(f"decode + fold: {len(events) / decode_fold:,.0f} events/s ({decode_fold:.2f} s)")
    print(f"fold alone:    {len(events) / fold_only:,.0f} events/s ({fold_only:.2f} s)")


if __name__ == "__main__":
    main()
