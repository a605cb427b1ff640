"""Operators shared by every policy: build a prompt from (task, parents, memory), parse the answer.

The prompt is Markdown with fixed headings (`prompt_headings`). `# Your job: <operator>` names the
operator so a reader (a model, or the offline coder) knows what is asked. A run's research program,
when it has one, is the `# Research program` section after `# Data`.
"""

from __future__ import annotations

from collections.abc import Sequence

from msgspec import Struct

from airad.agents import prompt_headings as headings
from airad.agents.knowledge_prompt import knowledge_section
from airad.agents.memory import memory_lines
from airad.agents.policy_view import NodeView, PolicyView
from airad.agents.prompt_headings import section
from airad.schemas.events import Operator
from airad.schemas.knowledge_events import Atom
from airad.schemas.policies import OperatorSpec

SYSTEM_PROMPT = (
    "You are an expert machine-learning engineer competing in a Kaggle-style competition. "
    "You write complete, runnable Python scripts that train a model and write a submission file."
)

RESPONSE_FORMAT = """\
Answer with a short plan (three to five sentences) and then the whole script in one ```python fenced block.
The script reads its data from ./input/ (read-only) and writes a prediction for every row of
./input/test.csv to ./submission/submission.csv, with the columns of ./input/sample_submission.csv.
Hold out part of ./input/train.csv, measure the competition metric on it, and print it as
`Validation metric: <value>`. Use pandas, numpy, scikit-learn or lightgbm; there is no network."""

DRAFT_TEXT = {
    False: (
        "Propose a solution: choose a modelling approach that is simple enough to run in a few "
        "minutes, and write the whole script."
    ),
    True: (
        "Propose one new idea: a modelling approach (model family, features, validation) that differs "
        "from every previous attempt listed above, simple enough to run in a few minutes, and write "
        "the whole script. Name the model family in the first sentence of your plan."
    ),
}

JOB_TEXT: dict[Operator, str] = {
    "improve": (
        "Improve the solution below. Make one focused change (features, model family or "
        "hyper-parameters) that should raise the validation metric, and write the whole script."
    ),
    "debug": (
        "The solution below failed. Read the error, fix the cause, keep the modelling idea, "
        "and write the whole corrected script."
    ),
    "crossover": (
        "Combine the two solutions below into one that should score better than either: for example "
        "merge their feature engineering, or ensemble their models. Write the whole script."
    ),
}


class TaskBrief(Struct, frozen=True):
    """What the task tells the model: its description and an overview of its public files.
    `response_format` replaces the competition layout's RESPONSE_FORMAT (a script task's metric file)."""

    description: str
    data_overview: str
    response_format: str = ""


class Message(Struct, frozen=True):
    """One chat message."""

    role: str
    content: str


DEFAULT_SPEC = OperatorSpec()


def build_prompt(
    operator: Operator,
    brief: TaskBrief,
    view: PolicyView,
    parent_ids: tuple[int, ...],
    spec: OperatorSpec = DEFAULT_SPEC,
    program: str = "",
    knowledge: Sequence[Atom] = (),
) -> tuple[Message, ...]:
    """The chat messages for one operator application; a research `program` gets its own section,
    and so does `knowledge`, the run's selected atoms from earlier runs of its domain."""
    sections = [
        section(headings.TASK, brief.description.strip()),
        section(headings.DATA, brief.data_overview.strip()),
    ]
    if program.strip():
        sections.append(program_section(program))
    if knowledge:
        sections.append(knowledge_section(knowledge))
    memory = memory_lines(view, operator, parent_ids, spec)
    if memory:
        sections.append(section(headings.PREVIOUS_ATTEMPTS, "\n".join(memory)))
    job = DRAFT_TEXT[spec.diverse_drafts] if operator == "draft" else JOB_TEXT[operator]
    sections.append(section(f"{headings.JOB}: {operator}", job))
    for index, parent_id in enumerate(parent_ids):
        sections.append(_parent_section(operator, view.nodes[parent_id], index))
    sections.append(section(headings.RESPONSE_FORMAT, brief.response_format.strip() or RESPONSE_FORMAT))
    return (Message("system", SYSTEM_PROMPT), Message("user", "\n\n".join(sections) + "\n"))


def program_section(program: str) -> str:
    """`# Research program` with the user's Markdown, its headings one level deeper (outside code
    fences) so they stay inside this section."""
    lines, fenced = [], False
    for line in program.strip().splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            line = "#" + line
        lines.append(line)
    intro = (
        "The user's research program for this search: follow its goal and constraints, "
        "prefer its ideas to try and never use its ideas to avoid."
    )
    return section(headings.RESEARCH_PROGRAM, f"{intro}\n\n" + "\n".join(lines))


def _parent_section(operator: Operator, parent: NodeView, index: int) -> str:
    if operator == "debug":
        title = headings.BUGGY_SOLUTION
    elif operator == "crossover":
        title = f"{headings.PARENT_SOLUTION} {'AB'[index]}"
    else:
        title = headings.SOLUTION_TO_IMPROVE
    text = section(f"{title} (node {parent.id})", f"{parent.plan.strip()}\n\n```python\n{parent.code.rstrip()}\n```")
    if operator == "debug":
        text += "\n\n" + section(headings.ERROR, f"```\n{parent.error.strip() or 'no output'}\n```")
    elif parent.score is not None:
        text += f"\n\n{headings.SCORE_LABEL}: {parent.score:.6g}"
    return text
