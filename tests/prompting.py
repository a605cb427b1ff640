"""Prompts rendered from the bundled templates for tests: the operators' messages for a brief and a
tree, with fixed surroundings (one CPU, ten minutes, no probed packages)."""

from __future__ import annotations

from collections.abc import Sequence

from airad.agents.analysis import ANALYZE_CONTRACT
from airad.agents.distill import RESPONSE_FORMAT as DISTILL_CONTRACT
from airad.agents.distill import findings_json
from airad.agents.operators import Message, TaskBrief
from airad.agents.policy_view import NodeView, PolicyView
from airad.agents.prompt_context import (
    BudgetLeft,
    Compute,
    DistillContext,
    OperatorContext,
    Surroundings,
    TaskContext,
    knowledge_items,
    operator_context,
)
from airad.agents.templates import messages
from airad.daemon.prompts import task_context
from airad.daemon.template_sets import templates_of
from airad.schemas.policies import OperatorSpec

SPEC = OperatorSpec()


def surroundings(brief: TaskBrief, program: str = "", contract: str | None = None) -> Surroundings:
    """Fixed surroundings: the local executor, one CPU, 8 GiB, ten minutes, ten nodes and 10 USD left."""
    return Surroundings(
        task=task_context("task", brief),
        output_contract=brief.output_contract if contract is None else contract,
        compute=Compute("local", 1, 8192, 0),
        time_limit_s=600.0,
        budget_left=BudgetLeft(10, 3600.0, 10.0, None),
        program=program,
    )


def operator_prompt_context(
    operator: str,
    brief: TaskBrief,
    view: PolicyView,
    parent_ids: Sequence[int],
    spec: OperatorSpec = SPEC,
    program: str = "",
    knowledge: Sequence = (),
) -> OperatorContext:
    """The context of a new node (the next id of `view`) made by `operator` from `parent_ids`."""
    around = surroundings(brief, program)
    return operator_context(operator, len(view.nodes), tuple(parent_ids), view, spec, around, knowledge)


def build_prompt(
    operator: str,
    brief: TaskBrief,
    view: PolicyView,
    parent_ids: Sequence[int],
    spec: OperatorSpec = SPEC,
    program: str = "",
    knowledge: Sequence = (),
) -> tuple[Message, ...]:
    """The messages of a new node's operator, rendered from `spec`'s template set."""
    context = operator_prompt_context(operator, brief, view, parent_ids, spec, program, knowledge)
    return messages(templates_of(spec), context)


def analyze_context(brief: TaskBrief, plan: str, code: str, output: str, program: str = "") -> OperatorContext:
    """The analyze context of a finished one-node run whose script printed `output`."""
    node = NodeView(0, "draft", (), (), True, False, None, plan, code, "", 0)
    view = PolicyView(nodes=(node,), lower_is_better=False, decisions=1)
    around = surroundings(brief, program, ANALYZE_CONTRACT)
    return operator_context("analyze", 0, (), view, SPEC, around, (), {0: output})


def build_analyze_prompt(
    brief: TaskBrief, plan: str, code: str, output: str, program: str = "", spec: OperatorSpec = SPEC
) -> tuple[Message, ...]:
    """The analyze messages for that run."""
    return messages(templates_of(spec), analyze_context(brief, plan, code, output, program))


def distill_context(task: str, run_id: str, metric: str, lower_is_better: bool, findings, current=()) -> DistillContext:
    """The distill context of a run's findings."""
    return DistillContext(
        operator="distill",
        task=TaskContext(task, "", "", metric, lower_is_better, "lower" if lower_is_better else "higher"),
        output_contract=DISTILL_CONTRACT,
        run_id=run_id,
        findings_json=findings_json(findings),
        current_knowledge=knowledge_items(current),
    )


def build_distill_prompt(task, run_id, metric, lower_is_better, findings, current=(), spec=SPEC) -> tuple[Message, ...]:
    """The distill messages of a run's findings."""
    return messages(templates_of(spec), distill_context(task, run_id, metric, lower_is_better, findings, current))
