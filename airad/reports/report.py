"""Reports over finished runs: the node each run would submit against the best it could have.

Per run, the node chosen by validation (what the agent submits) is set beside the oracle (the
node with the best held-out test score). Their difference in test score is the generalisation
gap, and the chosen node's validation score minus its test score is validation overfitting;
both are signed so that positive is worse, whichever way the metric points. Across runs of the
same task and policy, each figure is a mean with its standard error over seeds, as MLE-bench
aggregates its own results.

A seed is one sample: of the runs of a group that repeat a seed, only the latest (by submission)
counts, and the group names the repeated seeds. Runs that did not end on their own (cancelled,
ended by a broken model or an error, rejected or still running) are listed but never aggregated.
One sample has no spread: its standard error is None, not 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TypeVar, cast

from msgspec import Struct, structs

from airad.events.fold import Node, RunState, best_by_validation
from airad.schemas.events import Baseline
from airad.schemas.policies import policy_kind
from airad.schemas.request import task_label

SELECTION_RULES = ("validation", "oracle")
UNCOUNTED_REASONS = ("cancelled", "model", "error")
"""Finish reasons of runs that did not end on their own: listed in reports, never aggregated."""

T = TypeVar("T")


class Pick(Struct, frozen=True):
    """One node of a run picked by a selection rule, with its scores and medal."""

    node_id: int
    validation: float | None
    test: float | None
    medal: str | None = None
    above_median: bool | None = None


class RunReport(Struct, frozen=True):
    """One run: the node chosen by validation, the oracle node, the gap and the overfitting.

    `reason`: how it ended (its finish reason, or why it was rejected). `counted`: whether its
    group's aggregates include it; `left_out` says why not ('' when counted)."""

    run_id: str
    task: str
    policy: str
    seed: int
    status: str
    metric: str
    lower_is_better: bool
    nodes: int
    has_medals: bool
    chosen: Pick | None
    oracle: Pick | None
    gap: float | None
    overfitting: float | None
    labels: dict[str, str] = {}
    reason: str = ""
    submitted_at: float | None = None
    counted: bool = True
    left_out: str = ""
    baselines: tuple[Baseline, ...] = ()

    def any_medal(self, rule: str) -> bool:
        """Whether the node picked by `rule` ('validation' or 'oracle') won a medal."""
        pick = self.chosen if rule == "validation" else self.oracle
        return pick is not None and pick.medal is not None

    def above_median(self, rule: str) -> bool:
        """Whether the node picked by `rule` beat the leaderboard's median."""
        pick = self.chosen if rule == "validation" else self.oracle
        return pick is not None and bool(pick.above_median)


class Stat(Struct, frozen=True):
    """Mean and standard error of the mean over the `n` runs that have the value; `sem` is None when
    n < 2 (one value has no spread)."""

    mean: float | None
    sem: float | None
    n: int


class GroupReport(Struct, frozen=True):
    """Runs of one task and policy (and the grouping labels' values), aggregated over seeds.

    `runs` counts every run of the group, `counted` the ones aggregated: one per seed (`seeds`), the
    latest run of a seed in `repeated_seeds`, and none that did not end on their own.
    `any_medal_pct` and `above_median_pct` are keyed by selection rule and empty when the task has
    no leaderboard; a run without a graded node counts as no medal.
    """

    task: str
    policy: str
    labels: dict[str, str]
    runs: int
    seeds: list[int]
    metric: str
    lower_is_better: bool
    chosen_test: Stat
    oracle_test: Stat
    gap: Stat
    overfitting: Stat
    any_medal_pct: dict[str, Stat] = {}
    above_median_pct: dict[str, Stat] = {}
    counted: int = 0
    repeated_seeds: list[int] = []


class Report(Struct, frozen=True):
    """What `airad report` prints: one row per run and one per group."""

    groups: list[GroupReport]
    runs: list[RunReport]


def mean_sem(values: Iterable[float | None]) -> Stat:
    """Mean and standard error (sample std / sqrt(n)) of the values that are not None; no SEM for one."""
    present = [v for v in values if v is not None]
    n = len(present)
    if n == 0:
        return Stat(None, None, 0)
    mean = sum(present) / n
    if n == 1:
        return Stat(mean, None, 1)
    variance = sum((v - mean) ** 2 for v in present) / (n - 1)
    return Stat(mean, math.sqrt(variance / n), n)


def task_name(state: RunState) -> str:
    """The name a run's task goes by: a bundled name, a competition, a title or the kind."""
    return task_label(state.request.task) if state.request is not None else ""


def best_by_test(nodes: Iterable[Node], lower_is_better: bool) -> Node | None:
    """The node with the best held-out test score (the oracle); the earliest wins ties."""
    tested = [n for n in nodes if n.test_score is not None]
    if not tested:
        return None
    pick = min if lower_is_better else max
    return pick(tested, key=lambda n: cast(float, n.test_score))


def _pick(node: Node | None) -> Pick | None:
    if node is None:
        return None
    validation = node.score if node.valid else None
    return Pick(node.id, validation, node.test_score, node.medal, node.above_median)


def _shortfall(reference: float | None, actual: float | None, lower_is_better: bool) -> float | None:
    """How much worse `actual` is than `reference` (negative when better); None if either is missing."""
    if reference is None or actual is None:
        return None
    return actual - reference if lower_is_better else reference - actual


def run_report(state: RunState) -> RunReport:
    """The report of one run from its folded state."""
    lower = state.lower_is_better
    chosen = _pick(best_by_validation(state.nodes, lower))
    oracle = _pick(best_by_test(state.nodes, lower))
    chosen_test = chosen.test if chosen else None
    request = state.request
    return RunReport(
        run_id=state.run_id,
        task=task_name(state),
        policy=policy_kind(request.policy) if request else "",
        seed=request.seed if request else 0,
        status=state.status,
        metric=state.metric,
        lower_is_better=lower,
        nodes=len(state.nodes),
        has_medals=any(n.above_median is not None for n in state.nodes),
        chosen=chosen,
        oracle=oracle,
        gap=_shortfall(oracle.test if oracle else None, chosen_test, lower),
        overfitting=_shortfall(chosen.validation if chosen else None, chosen_test, lower),
        labels=dict(request.labels) if request else {},
        reason=state.finish_reason or state.rejection,
        submitted_at=state.submitted_at,
        baselines=state.baselines or (),
    )


def uncounted_reason(status: str, reason: str) -> str:
    """Why a run with this status and finish reason can never count in aggregates ('' when it can): it
    did not end on its own."""
    if status != "finished":
        return "rejected" if status == "rejected" else "not finished"
    if reason in UNCOUNTED_REASONS:
        return "cancelled" if reason == "cancelled" else f"ended with reason {reason}"
    return ""


def latest_per_seed(items: Sequence[T], seed: Callable[[T], int]) -> tuple[list[T], list[int]]:
    """One item per seed, the last of each seed in `items` (give them oldest first), in the order the
    kept ones come; and the seeds more than one item had, sorted."""
    latest: dict[int, T] = {}
    repeats: set[int] = set()
    for item in items:
        if seed(item) in latest:
            repeats.add(seed(item))
        latest[seed(item)] = item
    kept = [item for item in items if latest[seed(item)] is item]
    return kept, sorted(repeats)


def mark_samples(runs: Sequence[RunReport]) -> tuple[list[RunReport], list[int]]:
    """The runs of one group with `counted` and `left_out` set, in their order, and the repeated seeds:
    a run counts when it ended on its own and no later such run (by submission) has its seed."""
    eligible = [run for run in runs if not uncounted_reason(run.status, run.reason)]
    by_time = sorted(eligible, key=lambda run: run.submitted_at or 0.0)
    kept, repeated = latest_per_seed(by_time, lambda run: run.seed)
    latest = {run.seed: run for run in kept}
    marked = []
    for run in runs:
        why = uncounted_reason(run.status, run.reason)
        if not why and latest[run.seed] is not run:
            why = f"repeats seed {run.seed}: the later run {latest[run.seed].run_id} counts"
        marked.append(structs.replace(run, counted=not why, left_out=why))
    return marked, repeated


def _percent(flags: Iterable[bool]) -> Stat:
    return mean_sem(100.0 if flag else 0.0 for flag in flags)


def group_report(members: Sequence[RunReport], labels: Mapping[str, str], repeated: Sequence[int] = ()) -> GroupReport:
    """Aggregate the counted runs of one task and policy (`mark_samples` marks them) over their seeds."""
    first = next((r for r in members if r.metric), members[0])
    runs = [r for r in members if r.counted]
    medals = any(r.has_medals for r in runs)
    return GroupReport(
        task=first.task,
        policy=first.policy,
        labels=dict(labels),
        runs=len(members),
        seeds=sorted(r.seed for r in runs),
        metric=first.metric,
        lower_is_better=first.lower_is_better,
        chosen_test=mean_sem(r.chosen.test if r.chosen else None for r in runs),
        oracle_test=mean_sem(r.oracle.test if r.oracle else None for r in runs),
        gap=mean_sem(r.gap for r in runs),
        overfitting=mean_sem(r.overfitting for r in runs),
        any_medal_pct={rule: _percent(r.any_medal(rule) for r in runs) for rule in SELECTION_RULES} if medals else {},
        above_median_pct={rule: _percent(r.above_median(rule) for r in runs) for rule in SELECTION_RULES}
        if medals
        else {},
        counted=len(runs),
        repeated_seeds=list(repeated),
    )


def build_report(states: Iterable[RunState], by_labels: Sequence[str] = ()) -> Report:
    """Per-run reports (each marked counted or not) and their groups by (task, policy, values of the
    `by_labels` labels), aggregated over one counted run per seed."""
    runs = [run_report(state) for state in states]
    groups: dict[tuple[str, ...], list[int]] = {}
    for index, run in enumerate(runs):
        key = (run.task, run.policy, *(run.labels.get(label, "") for label in by_labels))
        groups.setdefault(key, []).append(index)
    reports = []
    for key, indices in groups.items():
        marked, repeated = mark_samples([runs[i] for i in indices])
        for index, run in zip(indices, marked, strict=True):
            runs[index] = run
        reports.append(group_report(marked, dict(zip(by_labels, key[2:], strict=False)), repeated))
    return Report(groups=reports, runs=runs)


def select_runs(
    states: Iterable[RunState], task: str | None = None, labels: Mapping[str, str] | None = None
) -> list[RunState]:
    """The runs of `task` (when given) whose request carries every one of `labels`."""
    wanted = labels or {}
    chosen = []
    for state in states:
        request_labels = state.request.labels if state.request else {}
        if task is not None and task_name(state) != task:
            continue
        if all(request_labels.get(k) == v for k, v in wanted.items()):
            chosen.append(state)
    return chosen
