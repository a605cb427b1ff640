"""Builders of events and histories for tests."""

from __future__ import annotations

from airad.schemas.events import (
    NodeExecuted,
    NodeGenerated,
    NodeScored,
    NodeSelected,
    NodeTested,
    RunSubmitted,
)
from airad.schemas.request import BundledTask, GreedyPolicy, RunRequest


class History:
    """Appends events with consecutive seq numbers for one run."""

    def __init__(self, run_id: str = "r1", request: RunRequest | None = None):
        self.run_id = run_id
        self.events: list = []
        self.add(RunSubmitted, request=request or RunRequest(task=BundledTask(name="breast-cancer")))

    def add(self, event_type, **fields):
        event = event_type(run_id=self.run_id, seq=len(self.events) + 1, at=1000.0 + len(self.events), **fields)
        self.events.append(event)
        return event

    def node(self, node_id: int, operator: str, parents: tuple[int, ...] = (), *, score: float | None = 0.9,
             test: float | None = 0.8, exit_code: int = 0, plan: str = "a plan"):
        """A node carried from selection to its test score; score None makes it buggy."""
        self.add(NodeSelected, node_id=node_id, operator=operator, parent_ids=parents)
        self.add(NodeGenerated, node_id=node_id, plan=plan, code="print(1)\n", model="m", prompt_ref="p",
                 completion_ref="c", prompt_tokens=5, completion_tokens=7, cost_usd=0.01)
        self.add(NodeExecuted, node_id=node_id, exit_code=exit_code, duration_s=1.0,
                 stderr_tail="" if exit_code == 0 else "Traceback: boom")
        self.add(NodeScored, node_id=node_id, metric="roc_auc", lower_is_better=False,
                 valid=score is not None and exit_code == 0, score=score,
                 error="" if score is not None else "no submission")
        self.add(NodeTested, node_id=node_id, score=test)
        return self


def greedy_request(**policy) -> RunRequest:
    """A request with a greedy policy configured by keyword."""
    return RunRequest(task=BundledTask(name="breast-cancer"), policy=GreedyPolicy(**policy))
