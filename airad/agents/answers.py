"""Turn a model's answer into a plan and a script, or say precisely why it cannot."""

from __future__ import annotations

import re

from msgspec import Struct

_THINK = re.compile(r"<think>.*?(</think>|$)", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|$)", re.DOTALL)


class Answer(Struct, frozen=True):
    """A parsed answer: the plan (prose) and the script."""

    plan: str
    code: str


class AnswerError(ValueError):
    """The answer holds no usable script; the message says why."""


def parse_answer(text: str) -> Answer:
    """Plan = the prose before the first code fence; code = the longest non-blank Python block, which must compile."""
    text = _THINK.sub("", text or "").strip()
    if not text:
        raise AnswerError("the answer is empty")
    blocks = [(lang.lower(), body) for lang, body in _FENCE.findall(text)]
    candidates = [body for lang, body in blocks if lang in ("python", "py", "python3", "")]
    if not candidates and not blocks and _looks_like_code(text):
        candidates = [text]
    if not candidates:
        raise AnswerError("the answer contains no Python code block")
    candidates = [body for body in candidates if body.strip()]
    if not candidates:
        raise AnswerError("the answer's code block is empty")
    code = max(candidates, key=len).strip("\n") + "\n"
    try:
        compile(code, "solution.py", "exec")
    except SyntaxError as exc:
        raise AnswerError(f"the script does not compile: {exc.msg} (line {exc.lineno})") from None
    first_fence = text.find("```")
    plan = text[:first_fence].strip() if first_fence >= 0 else ""
    return Answer(plan=plan, code=code)


def _looks_like_code(text: str) -> bool:
    return bool(re.search(r"^\s*(import|from)\s+\w+", text, re.MULTILINE))
