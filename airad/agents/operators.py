"""What the operators' prompts are made from: the task's brief, the chat messages, and the output
contract of the competition layout.

The prompts themselves are templates (`templates.py`, rendering a `prompt_context.OperatorContext`);
every policy shares them, and a request chooses or brings its own (docs/operators.md).
"""

from __future__ import annotations

from msgspec import Struct

RESPONSE_FORMAT = """\
Answer with a short plan (three to five sentences) and then the whole script in one ```python fenced block.
The script reads its data from ./input/ (read-only) and writes a prediction for every row of
./input/test.csv to ./submission/submission.csv, with the columns of ./input/sample_submission.csv.
It prints the metric it measured on held-out training data as `Validation metric: <value>`.
There is no network."""

# How a script of the competition layout reports its validation metric (the analyze step checks for it).
PRINTED_METRIC = "The script prints the metric it measured on held-out training data as `Validation metric: <value>`."


class TaskBrief(Struct, frozen=True):
    """What the task tells the model: its description, an overview of its public files, and the metric
    its harness scores by (with its direction; None where the task does not say).
    `response_format` replaces the competition layout's RESPONSE_FORMAT (a script task's metric file);
    `metric_report` then says how such a script reports its metric, and `metric_printed` whether its
    output shows it (the analyze step's review follows both)."""

    description: str
    data_overview: str
    response_format: str = ""
    metric: str = ""
    lower_is_better: bool | None = None
    metric_report: str = PRINTED_METRIC
    metric_printed: bool = True

    @property
    def output_contract(self) -> str:
        """Where a script reads and what it must write and answer: the task's own, or the competition layout's."""
        return self.response_format.strip() or RESPONSE_FORMAT


class Message(Struct, frozen=True):
    """One chat message."""

    role: str
    content: str
