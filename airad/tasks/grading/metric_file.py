"""Read a score from the metric file a user's script writes: one number, or a key of a JSON object."""

from __future__ import annotations

import json
import math

from airad.tasks.grading.grades import Score

SHOWN_CHARS = 80


def read_metric(data: bytes | None, file_name: str, key: str | None) -> Score:
    """The score in a metric file's bytes (None when the script wrote no such file); an invalid
    Score says exactly what is wrong with the file."""
    if data is None:
        return Score(
            valid=False,
            error=f"the script wrote no {file_name} (it must write the metric file into its working directory)",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return Score(valid=False, error=f"{file_name} is not UTF-8 text")
    if key is None:
        return _number(text.strip(), file_name, f"{file_name} should hold one number but holds {_shown(text)}")
    try:
        document = json.loads(text)
    except ValueError as exc:
        return Score(valid=False, error=f"{file_name} is not JSON ({exc}): {_shown(text)}")
    if not isinstance(document, dict):
        return Score(
            valid=False, error=f"{file_name} should be a JSON object with the key {key!r} but is {_shown(text)}"
        )
    if key not in document:
        keys = ", ".join(repr(k) for k in list(document)[:10]) or "none"
        return Score(valid=False, error=f"{file_name} has no key {key!r} (its keys: {keys})")
    value = document[key]
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return Score(valid=False, error=f"{file_name}[{key!r}] is {_shown(json.dumps(value))}, not a number")
    where = f"{file_name}[{key!r}]"
    return _number(str(value), where, f"{where} is {_shown(json.dumps(value))}, not a number")


def _number(text: str, where: str, problem: str) -> Score:
    """`text` as a finite float; else `problem` (not a number) or a note that `where` is not finite."""
    try:
        value = float(text)
    except ValueError:
        return Score(valid=False, error=problem)
    if not math.isfinite(value):
        return Score(valid=False, error=f"{where} is not finite ({value})")
    return Score(valid=True, score=value)


def _shown(text: str) -> str:
    text = " ".join(text.split())
    if not text:
        return "nothing (an empty file)"
    return repr(text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…")
