"""How `airad tui` copes with a big run and a long runs list, measured headless with `App.run_test()`.

    python bench/tui.py [--nodes 10000] [--runs 1000]

Builds a synthetic run of `--nodes` nodes (7 events each, made with the event structs, in an
in-memory log) and `--runs` run summaries, then prints: the time to open the run screen until its
tree is shown and until every event is folded (with how long a key waits meanwhile); replay speed in
events per second, one event at a time and playing; and the runs screen: first paint, a re-sort, a
filter and a live update of 100 runs.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time

import msgspec

from airad.events.log import RunSummary
from airad.events.in_memory import InMemoryEventLog, InMemoryRunIndex
from airad.schemas.events import (
    NodeDispatched,
    NodeExecuted,
    NodeGenerated,
    NodeQueued,
    NodeScored,
    NodeSelected,
    NodeTested,
    RunSubmitted,
)
from airad.schemas.policies import GreedyPolicy
from airad.schemas.request import Budget, BundledTask, RunRequest
from airad.tui.app import AiradApp
from airad.tui import replay_screen
from airad.tui.search_tree import SearchTree

RUN_ID = "synthetic"


def script(node_id: int, rng: random.Random) -> str:
    """A plausible 40-line training script that differs a little from node to node."""
    lines = ["import numpy as np", "import pandas as pd", "from sklearn.ensemble import RandomForestClassifier", ""]
    lines += [f"PARAM_{k} = {rng.randint(1, 500)}" for k in range(12)]
    lines += ["", "def features(frame):", "    frame = frame.copy()"]
    lines += [f"    frame['f{k}'] = frame.iloc[:, {k % 4}] * {rng.random():.3f}" for k in range(rng.randint(4, 12))]
    lines += ["    return frame", "", "train = pd.read_csv('train.csv')", f"model = RandomForestClassifier(n_estimators={50 + node_id % 400})",
              "model.fit(features(train.drop(columns=['target'])), train['target'])", "print('done')"]
    return "\n".join(lines) + "\n"


def synthetic_events(nodes: int, seed: int = 0) -> list:
    """A finished-looking greedy run of `nodes` nodes: 20 drafts, then improvements, debugs and
    crossovers of earlier nodes, about one in eight buggy."""
    rng = random.Random(seed)
    events: list = []

    def add(event_type, **fields) -> None:
        events.append(event_type(run_id=RUN_ID, seq=len(events) + 1, at=1_000_000.0 + len(events) * 0.5, **fields))

    request = RunRequest(task=BundledTask(name="wine"), policy=GreedyPolicy(num_drafts=20), seed=seed,
                         budget=Budget(max_nodes=nodes), run_id=RUN_ID)
    add(RunSubmitted, request=request)
    for i in range(nodes):
        if i < 20:
            operator, parents = "draft", ()
        else:
            operator = rng.choice(["improve", "improve", "debug", "crossover"])
            parents = tuple(sorted(rng.sample(range(i), 2))) if operator == "crossover" else (rng.randrange(i),)
        buggy = rng.random() < 0.125
        add(NodeSelected, node_id=i, operator=operator, parent_ids=parents)
        add(NodeGenerated, node_id=i, plan=f"Plan of node {i}: change one thing.", code=script(i, rng), model="m",
            prompt_ref="p", completion_ref="c", prompt_tokens=900, completion_tokens=300, cost_usd=0.002)
        add(NodeQueued, node_id=i, executor="local")
        add(NodeDispatched, node_id=i, executor="local", handle=f"job-{i}")
        add(NodeExecuted, node_id=i, exit_code=1 if buggy else 0, duration_s=rng.uniform(1, 30),
            stdout_tail="epoch 1\nepoch 2\n", stderr_tail="Traceback: boom\n" if buggy else "")
        add(NodeScored, node_id=i, metric="accuracy", lower_is_better=False, valid=not buggy,
            score=None if buggy else rng.uniform(0.5, 1.0), error="exit 1" if buggy else "")
        add(NodeTested, node_id=i, score=None if buggy else rng.uniform(0.5, 1.0))
    return events


def summaries(count: int, seed: int = 0) -> list[RunSummary]:
    """`count` run summaries of every status, policy and task."""
    rng = random.Random(seed)
    now = time.time()
    return [
        RunSummary(
            run_id=f"run-{i:05d}", status=rng.choice(["running", "finished", "finished", "rejected"]),
            task=rng.choice(["wine", "iris", "breast-cancer", "digits"]), policy=rng.choice(["greedy", "mcts", "evolutionary"]),
            model="m", nodes=rng.randint(0, 200), buggy=rng.randint(0, 20), in_flight=rng.randint(0, 4),
            best_score=rng.random(), best_test_score=rng.random(), cost_usd=rng.uniform(0, 30), submitted_at=now - rng.uniform(0, 864000),
        )
        for i in range(count)
    ]


async def wait(pilot, predicate, timeout_s: float = 120.0) -> float:
    """Seconds until `predicate()` holds, the app running meanwhile."""
    start = time.perf_counter()
    while not predicate():
        if time.perf_counter() - start > timeout_s:
            raise TimeoutError("the condition never held")
        await pilot.pause(0.005)
    return time.perf_counter() - start


class LagProbe:
    """The longest the event loop was kept busy (a 5 ms sleep woke up late) while the probe ran:
    how long a key press could have waited for the app."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task | None = None

    async def _watch(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(0.005)
            self.worst = max(self.worst, time.perf_counter() - start - 0.005)

    def __enter__(self) -> "LagProbe":
        self._task = asyncio.get_running_loop().create_task(self._watch())
        return self

    def __exit__(self, *exc) -> None:
        self._task.cancel()


async def open_big_run(events: list) -> None:
    log = InMemoryEventLog()
    for event in events:
        await log.append(event)
    started = time.perf_counter()
    app = AiradApp(log=log, run_id=RUN_ID)
    async with app.run_test(size=(160, 50)) as pilot:
        with LagProbe() as lag:
            screen = app.screen
            tree = screen.query_one(SearchTree)
            await wait(pilot, lambda: bool(tree.root.children))
            shown = time.perf_counter() - started
            await wait(pilot, lambda: screen.position == len(events))
            await pilot.pause()
            folded = time.perf_counter() - started
        lines = len(tree.root.children)
    print(f"open a {len(screen.state.nodes)}-node run ({len(events)} events): tree shown after {shown:.2f} s, "
          f"all folded after {folded:.2f} s ({lines} top-level tree lines); the event loop was never busy for "
          f"more than {1000 * lag.worst:.0f} ms at a time meanwhile")


async def replay_speed(events: list, steps: int) -> None:
    app = AiradApp(events=events)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = app.screen
        start = time.perf_counter()
        screen.seek(len(events) // 2)
        await pilot.pause()
        seek = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(steps):
            screen.action_step(1)
        forward = steps / (time.perf_counter() - start)
        start = time.perf_counter()
        for _ in range(steps):
            screen.action_step(-1)
        back = steps / (time.perf_counter() - start)
        await wait(pilot, lambda: not screen.timeline.add_checkpoint())
        seeks = []
        for position in random.Random(1).sample(range(len(events)), 20):
            start = time.perf_counter()
            screen.seek(position)
            seeks.append(time.perf_counter() - start)
        rates = []
        for speed in (5_000, 100_000):
            replay_screen.SPEEDS = (speed,)
            screen.speed = 0
            position, start = screen.position, time.perf_counter()
            screen.action_play()
            await pilot.pause(2.0)
            rates.append((screen.position - position) / (time.perf_counter() - start))
            screen.action_play()
    print(f"replay of {len(events)} events: first seek to the middle {seek:.2f} s; one event at a time (fold and "
          f"update every widget) {forward:.0f} events/s forward, {back:.0f} events/s back; once the checkpoints are folded "
          f"(in the background) a seek anywhere takes {1000 * max(seeks):.0f} ms at most; playing, repainted every "
          f"{1000 * replay_screen.TICK_S:.0f} ms: {rates[0]:.0f} events/s when 5,000 are asked, {rates[1]:.0f} flat out")


async def runs_list(count: int) -> None:
    index = InMemoryRunIndex()
    for summary in summaries(count):
        await index.put(summary)
    started = time.perf_counter()
    app = AiradApp(index=index, refresh_s=0.05)
    async with app.run_test(size=(160, 50)) as pilot:
        with LagProbe() as lag:
            screen = app.screen
            table = screen.query_one("#runs")
            await wait(pilot, lambda: table.row_count == count)
            await pilot.pause()
            shown = time.perf_counter() - started
        sorts = []
        for _ in range(9):
            start = time.perf_counter()
            screen.action_sort()
            sorts.append(time.perf_counter() - start)
        query = screen.query_one("#filter")
        keystrokes = []
        for typed in ("r", "ru", "run", "runn", "running", "runnin", "runni", "runn", "run", ""):
            query.value = typed
            start = time.perf_counter()
            screen.refresh_rows()
            keystrokes.append(time.perf_counter() - start)
        await pilot.pause()
        changed = [s for s in summaries(count) if s.status == "running"][:100]
        start = time.perf_counter()
        for summary in changed:
            await index.put(msgspec.structs.replace(summary, nodes=999))
        await wait(pilot, lambda: all(table.get_cell(s.run_id, "nodes").startswith("999/") for s in changed))
        update = time.perf_counter() - start
    print(f"runs screen with {count} runs: shown after {shown:.2f} s (event loop busy at most {1000 * lag.worst:.0f} ms "
          f"at a time); re-sort {1000 * max(sorts):.0f} ms at most over every column; a filter keystroke "
          f"{1000 * max(keystrokes):.0f} ms at most (typing and deleting 'running'); 100 runs changed in the index "
          f"shown after {1000 * update:.0f} ms (the screen refreshed every 50 ms)")


async def main(args) -> None:
    build = time.perf_counter()
    events = synthetic_events(args.nodes)
    print(f"built {len(events)} events in {time.perf_counter() - build:.1f} s")
    await open_big_run(events)
    await replay_speed(events, args.steps)
    await runs_list(args.runs)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=1_000)
    parser.add_argument("--steps", type=int, default=500)
    asyncio.run(main(parser.parse_args()))
