"""The analyze operator (AIDE's review step): judge one execution from its output.

The verdict follows from the output alone: a traceback or error line, or no `Validation metric:`
line where the task's scripts print their metric (not where they write it to a file the harness
reads), makes it a bug; the metric is the number after the last `Validation metric:`; whether lower
is better follows from the metric the task description names.
"""

from __future__ import annotations

import json
import math
import re

from airad.offline.ensemble import family_label
from airad.offline.plans import headline
from airad.offline.prompt import LOWER_IS_BETTER, METRIC_NAMES, Prompt, detect_metric
from airad.offline.revise import parent_config

REVIEW_TOOL_NAME = "submit_review"

_METRIC_LINE = re.compile(r"Validation metric:\s*(\S+)")
_TRACEBACK = re.compile(r"^Traceback \(most recent call last\):", re.MULTILINE)
_ERROR_LINE = re.compile(r"^([\w.]*(?:Error|Exception)|KeyboardInterrupt|SystemExit)(:|$)", re.MULTILINE)
_FATAL = re.compile(
    r"\bSegmentation fault\b|\bcore dumped\b|^Killed\b|\btimed out\b|TimeoutExpired|\[Fatal\]|"
    r"exited with (status|code) [1-9]|non-zero exit",
    re.IGNORECASE | re.MULTILINE,
)
_FRAME = re.compile(r'^\s*File "([^"]+)", line (\d+)', re.MULTILINE)


def review(prompt: Prompt) -> dict:
    """The `submit_review` arguments: is_bug, summary, metric (or None) and lower_is_better."""
    output = "" if prompt.output.strip() in ("", "(no output)") else prompt.output
    error = _error_text(output)
    value, raw = _metric(output)
    metric, assumed = _metric_kind(prompt)
    lower = metric in LOWER_IS_BETTER if metric else False
    name = METRIC_NAMES[metric] if metric else "metric"
    direction = f"{'lower' if lower else 'higher'} is better" + (
        ", assumed: the task names no metric I know" if assumed else ""
    )
    if error and value is None:
        sentences = [
            f"The script failed with {headline(error)}{_where(output)}.",
            "It printed no validation metric, so the run counts as a bug.",
        ]
    elif error:
        sentences = [
            f"The script printed a validation {name} of {value:.6g} "
            f"but then failed with {headline(error)}{_where(output)}.",
            "Because of the error the run counts as a bug; its submission may be missing or incomplete.",
        ]
    elif value is None and raw is not None:
        sentences = [
            f"The script ran to the end but its validation metric is {raw!r}, which is not a finite number.",
            "Without a usable score the run counts as a bug; the predictions are probably degenerate.",
        ]
    elif value is None and not prompt.metric_printed:
        sentences = [
            "The script ran without errors; by the task's contract it reports its metric in a file, "
            "which the harness reads, not in its output.",
            _approach(prompt),
        ]
    elif not output.strip():
        sentences = [
            "The script printed nothing at all, so there is no validation metric to read.",
            "The run counts as a bug.",
        ]
    elif value is None:
        sentences = [
            "The script finished without a traceback but printed no 'Validation metric:' line, "
            "so there is no score to read.",
            "The run counts as a bug until it reports the metric on held-out rows.",
        ]
    else:
        sentences = [f"The script ran without errors and printed a validation {name} of {value:.6g} ({direction})."]
        sentences.append(_approach(prompt))
    return {
        "is_bug": bool(error) or (value is None and prompt.metric_printed),
        "summary": " ".join(s for s in sentences if s),
        "metric": value,
        "lower_is_better": lower,
    }


def review_text(verdict: dict) -> str:
    """The verdict as an answer in text: one sentence, then the JSON object in a ```json fence."""
    return f"My review of this execution:\n\n```json\n{json.dumps(verdict, indent=2, ensure_ascii=False)}\n```\n"


def _error_text(output: str) -> str:
    """The part of the output that shows a failure, from the traceback on; "" when there is none."""
    traceback = _TRACEBACK.search(output)
    if traceback:
        return output[traceback.start() :]
    error = _ERROR_LINE.search(output) or _FATAL.search(output)
    if error:
        return output[output.rfind("\n", 0, error.start()) + 1 :]
    return ""


def _metric(output: str) -> tuple[float | None, str | None]:
    """(the finite number after the last `Validation metric:` or None, the text after it or None).

    Text that is no number at all (e.g. the source line of a traceback) is passed over.
    """
    found = [raw.rstrip(".,;") for raw in _METRIC_LINE.findall(output)]
    for raw in reversed(found):
        try:
            value = float(raw)
        except ValueError:
            continue
        return (value, raw) if math.isfinite(value) else (None, raw)
    return None, found[-1] if found else None


def _metric_kind(prompt: Prompt) -> tuple[str | None, bool]:
    """(the metric the task names, else the script's CONFIG metric, else a guess; whether it is assumed)."""
    named = detect_metric(prompt.task)
    if named:
        return named, False
    config = parent_config(prompt.parent_code)
    if config is not None:
        return config["metric"], False
    return detect_metric(prompt.parent_plan), True


def _where(output: str) -> str:
    """Where the script raised: its innermost frame outside library code, in parentheses; else ""."""
    frames = [
        (path, line)
        for path, line in _FRAME.findall(output)
        if not re.search(r"site-packages|/lib/python|<frozen", path)
    ]
    if not frames:
        return ""
    path, line = frames[-1]
    return f" (raised at line {line} of {path.rsplit('/', 1)[-1]})"


def _approach(prompt: Prompt) -> str:
    """One sentence on what the solution does: its CONFIG's model family, else its plan's first sentence."""
    config = parent_config(prompt.parent_code)
    if config is not None:
        share = round(config["valid_size"] * 100)
        return f"The solution's model family is {family_label(config)}, scored on {share}% of train.csv held out."
    first = re.split(r"(?<=[.!?])\s+", " ".join(prompt.parent_plan.split()), maxsplit=1)[0]
    return f"Its plan: {first[:200]}" if first else ""
