"""The analyze operator: the model reviews a finished script's output (AIDE's `submit_review`).

Its verdict is recorded beside the harness's score and never trusted over it.
"""

from __future__ import annotations

import json
import re
from typing import Literal

from msgspec import Struct

ANALYZE_CONTRACT = (
    "Call the function `submit_review`; if you cannot call functions, answer with one JSON object with the keys "
    "is_bug, summary, metric and lower_is_better."
)

REVIEW_TOOL = {
    "type": "function",
    "function": {
        "name": "submit_review",
        "description": "Submit a review of the script's execution.",
        "parameters": {
            "type": "object",
            "properties": {
                "is_bug": {"type": "boolean", "description": "True if the script failed or its output shows a bug."},
                "summary": {"type": "string", "description": "Two or three sentences on what happened."},
                "metric": {
                    "type": ["number", "null"],
                    "description": "The validation metric the script printed, or null.",
                },
                "lower_is_better": {"type": "boolean", "description": "True if a lower metric is better."},
            },
            "required": ["is_bug", "summary", "metric", "lower_is_better"],
        },
    },
}


class Review(Struct, frozen=True):
    """The model's review; `via` says how it was given."""

    summary: str
    is_bug: bool | None = None
    metric: float | None = None
    lower_is_better: bool | None = None
    via: Literal["tool", "json", "none"] = "none"


def parse_review(tool_arguments: str | None, text: str) -> Review:
    """The review from a tool call's arguments, else from a JSON object in the text, else none (an
    empty summary, `via` "none": an answer such as code or prose is no review)."""
    if tool_arguments:
        review = _from_json(tool_arguments, "tool")
        if review is not None:
            return review
    for candidate in re.findall(r"```(?:json)?\s*(\{.*?\})\s*```", text or "", re.DOTALL) + re.findall(
        r"\{.*\}", text or "", re.DOTALL
    ):
        review = _from_json(candidate, "json")
        if review is not None:
            return review
    return Review(summary="")


def _from_json(raw: str, via: Literal["tool", "json"]) -> Review | None:
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict) or "summary" not in data:
        return None
    metric = data.get("metric")
    try:
        metric = float(metric) if metric is not None else None
    except (TypeError, ValueError):
        metric = None
    if metric is not None and metric != metric:
        metric = None
    return Review(
        summary=str(data.get("summary", ""))[:2000],
        is_bug=data["is_bug"] if isinstance(data.get("is_bug"), bool) else None,
        metric=metric,
        lower_is_better=data["lower_is_better"] if isinstance(data.get("lower_is_better"), bool) else None,
        via=via,
    )
