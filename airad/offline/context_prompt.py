"""The offline coder's reading of an operator's structured context (`airad.agents.prompt_context`).

The daemon hands the context beside the rendered messages, so the coder answers the same whatever a
template says: a custom template set still gets an answer offline. Old text prompts, with no
context, are still read by their headings (`prompt.parse_prompt`).
"""

from __future__ import annotations

from airad.offline.prompt import Attempt, KnownAtom, Parent, Prompt


def _score(value: object) -> str:
    return f"{value:.6g}" if isinstance(value, (int, float)) else ""


def _code(text: str) -> str:
    """Code as read off a prompt's fence: ending in one newline."""
    return text.rstrip() + "\n" if text.strip() else ""


def _parent(item: dict) -> Parent:
    code = _code(item.get("code", ""))
    return Parent(node=item.get("id"), plan=item.get("plan", ""), code=code, score=_score(item.get("score")))


def prompt_from_context(context: dict) -> Prompt:
    """The prompt's parts as the coder uses them, taken from a context's fields."""
    task = context.get("task") or {}
    prompt = Prompt(
        job=str(context.get("operator", "")).lower() or None,
        task=task.get("description", ""),
        data=task.get("data_overview", ""),
        program=context.get("program", "") or "",
        metric_printed=task.get("metric_printed", True) is not False,
        attempts=[
            Attempt(node=m["node"], operator=m["operator"], outcome=m["outcome"], plan=m["plan"])
            for m in context.get("memory") or ()
        ],
        knowledge=[
            KnownAtom(
                effect=a["effect"],
                kind=a["kind"],
                claim=a["claim"],
                atom_id=a["atom_id"],
                version=a["version"],
                confidence=a["confidence"],
            )
            for a in context.get("knowledge") or ()
        ],
    )
    parents = [_parent(p) for p in context.get("parents") or ()]
    solution = context.get("solution")
    if solution:
        parents = [Parent(node=None, plan=solution.get("plan", ""), code=_code(solution.get("code", "")))]
        prompt.output = solution.get("output", "")
    prompt.parents = parents
    if parents:
        first = parents[0]
        prompt.parent_id, prompt.parent_plan, prompt.parent_code, prompt.parent_score = (
            first.node,
            first.plan,
            first.code,
            first.score,
        )
    if prompt.job == "debug" and context.get("parents"):
        prompt.error = context["parents"][0].get("error", "")
    return prompt
