"""Every policy on bundled tasks × seeds with the offline coder at an equal node budget.

    python bench/policies.py [--nodes 10] [--seeds 3] [--tasks breast-cancer,wine,diabetes] [--slots 2] [--drafts 3]

Prints, per task and policy: the held-out test score of the node each run picked by validation
(mean ± SEM over seeds), the harness's gradient-boosting baseline on the same splits (`run.baselines`)
and how far the picked node beats it (positive: better, in the metric's units), nodes, buggy
fraction, and draft diversity (distinct model families).
All runs go concurrently through one in-process runner sharing `--slots` executor slots.
"""

from __future__ import annotations

import argparse
import logging
import math
import statistics
import tempfile
import time
from pathlib import Path

import anyio
import structlog

from airad.schemas.events import boosted
from airad.daemon.llm import LiteLLMClient
from airad.daemon.runner import drive_run
from airad.daemon.run_services import RunServices
from airad.reports.diversity import draft_diversity
from airad.events.in_memory import InMemoryBlobStore, InMemoryEventLog, InMemoryRunIndex
from airad.executors.local import LocalExecutor
from airad.schemas.events import RunSubmitted
from airad.schemas.policies import AiraGreedyPolicy, EvolutionaryPolicy, GreedyPolicy, MctsPolicy
from airad.schemas.request import Budget, BundledTask, RunRequest

def policies(drafts: int | None) -> dict:
    """The published defaults, or every policy seeded with `drafts` initial drafts (so small node
    budgets are not all spent on the initial drafts, where every AIRA-operator policy is the same)."""
    if drafts is None:
        return {"aide-greedy": GreedyPolicy(), "aira-greedy": AiraGreedyPolicy(), "mcts": MctsPolicy(),
                "evolutionary": EvolutionaryPolicy()}
    return {
        "aide-greedy": GreedyPolicy(num_drafts=drafts),
        "aira-greedy": AiraGreedyPolicy(num_drafts=drafts),
        "mcts": MctsPolicy(num_children=drafts),
        "evolutionary": EvolutionaryPolicy(individuals_per_generation=drafts, crossover_warmup_generations=1),
    }


def mean_sem(values: list[float]) -> str:
    if not values:
        return "-"
    mean = statistics.fmean(values)
    sem = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0
    return f"{mean:.4f} ± {sem:.4f}"


async def main(args) -> None:
    log = InMemoryEventLog()
    tasks = args.tasks.split(",")
    chosen = policies(args.drafts)
    with tempfile.TemporaryDirectory() as tmp:
        services = RunServices(
            log=log, blobs=InMemoryBlobStore(), index=InMemoryRunIndex(), llm=LiteLLMClient(),
            executors={"local": LocalExecutor(Path(tmp) / "work", hidden=(Path(tmp).resolve(),))},
            limiters={"local": anyio.CapacityLimiter(args.slots)}, tasks_root=Path(tmp) / "tasks", owner="bench",
            reference_baselines=True,
        )
        runs = []
        for task in tasks:
            for name, policy in chosen.items():
                for seed in range(args.seeds):
                    run_id = f"{name}-{task}-{seed}"
                    request = RunRequest(task=BundledTask(name=task), policy=policy, seed=seed,
                                         budget=Budget(max_nodes=args.nodes), run_id=run_id)
                    await log.append(RunSubmitted(run_id=run_id, seq=1, at=time.time(), request=request))
                    runs.append((task, name, run_id))
        started = time.perf_counter()
        states = {}

        async def one(run_id: str) -> None:
            states[run_id] = await drive_run(services, run_id)

        async with anyio.create_task_group() as tg:
            for _, _, run_id in runs:
                tg.start_soon(one, run_id)
        wall = time.perf_counter() - started

    seeded = f"{args.drafts} initial drafts" if args.drafts else "published defaults"
    print(f"{len(runs)} runs, {args.nodes} nodes each ({seeded}), offline coder, {args.slots} executor slots, {wall:.0f} s\n")
    header = (
        f"{'task':<14} {'policy':<13} {'metric':<8} {'test score (mean ± SEM)':<24} {'valid score':<18} "
        f"{'baseline test (GB)':<20} {'beats GB by':<18} {'nodes':>5} {'buggy':>6} {'draft families':>15}"
    )
    print(header)
    print("-" * len(header))
    for task in tasks:
        for name in chosen:
            group = [states[r] for t, n, r in runs if t == task and n == name]
            tests = [s.best_node().test_score for s in group if s.best_node() and s.best_node().test_score is not None]
            valids = [s.best_node().score for s in group if s.best_node()]
            nodes = statistics.fmean(len(s.nodes) for s in group)
            buggy = statistics.fmean(sum(n.buggy for n in s.nodes) / max(len(s.nodes), 1) for s in group)
            families = statistics.fmean(
                draft_diversity([(n.plan, n.code) for n in s.nodes if n.operator == "draft" and n.code]).families
                for s in group
            )
            metric = group[0].metric
            baselines = [boosted_test(s) for s in group]
            margins = [
                (b - s.best_node().test_score) if s.lower_is_better else (s.best_node().test_score - b)
                for s, b in zip(group, baselines, strict=True)
                if b is not None and s.best_node() and s.best_node().test_score is not None
            ]
            known = [b for b in baselines if b is not None]
            print(
                f"{task:<14} {name:<13} {metric:<8} {mean_sem(tests):<24} {mean_sem(valids):<18} "
                f"{mean_sem(known):<20} {mean_sem(margins):<18} {nodes:>5.1f} {buggy:>6.2f} {families:>15.1f}"
            )


def boosted_test(state) -> float | None:
    """The held-out test score of the run's gradient-boosting reference baseline."""
    baseline = boosted(state.baselines)
    return baseline.test if baseline else None


if __name__ == "__main__":
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--tasks", default="breast-cancer,wine,diabetes")
    parser.add_argument("--slots", type=int, default=2)
    parser.add_argument("--drafts", type=int, default=None, help="initial drafts of every policy (default: published)")
    anyio.run(main, parser.parse_args())
