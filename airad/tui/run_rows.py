"""The rows of the runs screen: cells per run summary, sort orders and the filter."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from rich.text import Text

from airad.events.log import RunSummary
from airad.tui.labels import STATUS_STYLE, age, score

COLUMNS = ("run", "status", "task", "policy", "nodes", "valid", "test", "cost", "age")
HEADERS = ("RUN", "STATUS", "TASK", "POLICY", "NODES/BUG/RUN", "BEST VALID", "TEST", "COST", "AGE")
FIELDS = ("run_id", "status", "task", "policy", "model")

SORT_KEYS: dict[str, Callable[[RunSummary], tuple]] = {
    "run": lambda s: (s.run_id,),
    "status": lambda s: (s.status, s.run_id),
    "task": lambda s: (s.task, s.run_id),
    "policy": lambda s: (s.policy, s.run_id),
    "nodes": lambda s: (s.nodes, s.run_id),
    "valid": lambda s: (s.best_score is not None, s.best_score or 0.0, s.run_id),
    "test": lambda s: (s.best_test_score is not None, s.best_test_score or 0.0, s.run_id),
    "cost": lambda s: (s.cost_usd, s.run_id),
    "age": lambda s: (s.submitted_at or 0.0, s.run_id),
}


def cells(summary: RunSummary, now: float) -> tuple:
    """The table cells of one run."""
    s = summary
    return (
        s.run_id,
        Text(s.status, style=STATUS_STYLE.get(s.status, "")),
        s.task,
        s.policy,
        f"{s.nodes}/{s.buggy}/{s.in_flight}",
        score(s.best_score),
        score(s.best_test_score),
        f"${s.cost_usd:.2f}",
        age(now - s.submitted_at) if s.submitted_at is not None else "-",
    )


def matches(summary: RunSummary, query: str) -> bool:
    """Every word of the query is in one of the run's id, status, task, policy or model;
    `field:value` words (e.g. `status:running`) must start that field."""
    for word in query.lower().split():
        field, sep, value = word.partition(":")
        if sep and field in ("status", "task", "policy", "model", "run"):
            attribute = "run_id" if field == "run" else field
            if not str(getattr(summary, attribute)).lower().startswith(value):
                return False
        elif not any(word in str(getattr(summary, f)).lower() for f in FIELDS):
            return False
    return True


def visible(summaries: Iterable[RunSummary], query: str, column: str, descending: bool) -> list[RunSummary]:
    """The runs that match the filter, in the chosen order."""
    shown = [s for s in summaries if matches(s, query)]
    return sorted(shown, key=SORT_KEYS[column], reverse=descending)
