"""The offline coder's entry point: read an operator prompt and answer it as a model would.

Solution operators (draft, improve, debug, crossover) get a plan and one Python script; analyze
gets a review, as a `submit_review` tool call when that tool is offered, else as JSON in text.
Pure and deterministic: every choice comes from `random.Random` seeded with a hash of the
operator's context (its stable parts, `context_seed`), or of the messages when there is no context,
so the same node always gets the same answer. A `# Research program` steers it: its
model families to avoid are never used, its families to try are drafted first (`program`).
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass

from airad.agents.script_key import script_key
from airad.offline.context_prompt import prompt_from_context
from airad.offline.crossover import crossover
from airad.offline.distill import DISTILL_JOB, distill, distill_findings, findings_from_json
from airad.offline.drafting import FAMILIES, FAMILY_ALIASES, draft, new_config, tried_families
from airad.offline.program import program_hints
from airad.offline.prompt import Prompt, TaskFacts, parse_prompt, task_facts
from airad.offline.review import REVIEW_TOOL_NAME, review, review_text
from airad.offline.revise import debug, diagnose, improve

__all__ = [  # the operators' names are re-exported from their modules
    "FAMILIES",
    "FAMILY_ALIASES",
    "NOT_A_JOB",
    "Reply",
    "answer",
    "crossover",
    "debug",
    "diagnose",
    "draft",
    "improve",
    "new_config",
    "prompt_seed",
    "respond",
    "tried_families",
]

SOLUTION_JOBS = ("draft", "improve", "debug", "crossover")

NOT_A_JOB = (
    "Thank you for the message. I am the offline coder: I answer the prompts of the search "
    "operators (draft, improve, debug or cross over solutions, or analyze an execution), and this "
    "message asks for none of them, so there is no script to write. Please send a prompt with a "
    "'# Your job:' section."
)


@dataclass(frozen=True)
class Reply:
    """An answer: text, or a tool call (`tool_name` with JSON `tool_arguments`) and no text."""

    text: str | None
    tool_name: str | None = None
    tool_arguments: str | None = None


def answer(messages: list[dict]) -> str:
    """The text answer to litellm-style chat messages (no tools offered): plan + script, JSON review, or prose."""
    return respond(messages).text or ""


def respond(
    messages: list[dict], tools: list | None = None, tool_choice: object = None, context: dict | None = None
) -> Reply:
    """The answer to chat messages when `tools` (OpenAI format) are offered with `tool_choice`.
    With the operator's structured `context` (the daemon passes it), the coder reads that instead of
    the messages' text, so any template gets the same kind of answer.

    Only analyze uses a tool: it calls `submit_review` when offered and allowed.
    """
    prompt = prompt_from_context(context) if context else parse_prompt(_user_text(messages))
    if prompt.job == "analyze":
        verdict = review(prompt)
        if _tool_allowed(REVIEW_TOOL_NAME, tools, tool_choice):
            return Reply(None, REVIEW_TOOL_NAME, json.dumps(verdict, ensure_ascii=False))
        return Reply(review_text(verdict))
    if prompt.job == DISTILL_JOB:
        if context:
            return Reply(distill_findings(findings_from_json(str(context.get("findings_json", "")))))
        return Reply(distill(_user_text(messages)))
    if prompt.job not in SOLUTION_JOBS:
        return Reply(NOT_A_JOB)
    rng = random.Random(context_seed(context) if context else prompt_seed(messages))
    facts = task_facts(prompt.task, prompt.data)
    tried = set(context.get("tried_scripts") or ()) if context else set()
    sentences, code = _solution(facts, prompt, rng)
    for _ in range(REDRAWS):
        if script_key(code) not in tried:
            break
        sentences, code = _solution(facts, prompt, rng)
    plan = " ".join(s.replace("```", "'''") for s in sentences)
    return Reply(f"{plan}\n\n```python\n{code.rstrip()}\n```\n")


def _solution(facts: TaskFacts, prompt: Prompt, rng: random.Random) -> tuple[list[str], str]:
    """A plan's sentences and a script for the prompt's job (draft, improve, debug or crossover)."""
    if prompt.job == "draft":
        return draft(
            facts, prompt.attempts, rng, allow_bug=True, hints=program_hints(prompt.program), knowledge=prompt.knowledge
        )
    if prompt.job == "improve":
        return improve(facts, prompt, rng)
    if prompt.job == "debug":
        return debug(facts, prompt, rng)
    return crossover(facts, prompt, rng)


# What the answer to a context must not depend on: what is left of the budget (it moves with the clock)
# and what the probed environment reports (it differs from machine to machine), nor the template's words.
# The scripts tried so far steer the answer away from a repeat, but do not seed it.
VOLATILE = ("budget_left", "packages", "compute", "tried_scripts")
# How many times the coder draws again when its answer is a script the run has already tried.
REDRAWS = 8


# Words of the task's output contract that steer the review, not the code.
CONTRACT_WORDS = ("metric_report", "metric_printed")


def context_seed(context: dict) -> int:
    """A 64-bit seed from the SHA-256 of the context without its volatile parts: the same node of the
    same run gets the same answer on any machine, whatever template rendered its prompt."""
    stable = {key: value for key, value in context.items() if key not in VOLATILE}
    if isinstance(stable.get("task"), dict):
        stable["task"] = {key: value for key, value in stable["task"].items() if key not in CONTRACT_WORDS}
    payload = json.dumps(stable, sort_keys=True, ensure_ascii=False, default=list)
    return int.from_bytes(hashlib.sha256(payload.encode()).digest()[:8], "big")


def prompt_seed(messages: list[dict]) -> int:
    """A 64-bit seed from the SHA-256 of the messages' roles and texts."""
    payload = json.dumps([[m.get("role", ""), _content(m)] for m in messages], ensure_ascii=False)
    return int.from_bytes(hashlib.sha256(payload.encode()).digest()[:8], "big")


def _tool_allowed(name: str, tools: list | None, tool_choice: object) -> bool:
    """Whether a function `name` is among `tools` and `tool_choice` permits calling it."""
    offered = {_get(_get(tool, "function"), "name") for tool in tools or []}
    if name not in offered or tool_choice == "none":
        return False
    if isinstance(tool_choice, dict) or hasattr(tool_choice, "function"):
        return _get(_get(tool_choice, "function"), "name") == name
    return True


def _get(item: object, key: str) -> object:
    """`item[key]` for a dict, else the attribute; None when absent."""
    return item.get(key) if isinstance(item, dict) else getattr(item, key, None)


def _user_text(messages: list[dict]) -> str:
    users = [m for m in messages if m.get("role") == "user"]
    return _content(users[-1]) if users else ""


def _content(message: dict) -> str:
    """A message's text, whether its content is a string or a list of parts."""
    content = message.get("content") or ""
    if isinstance(content, str):
        return content
    return "\n".join(part.get("text", "") for part in content if isinstance(part, dict))
