"""Fixed contexts that templates are checked and snapshotted against.

Two per operator: one where every optional part is present (memory, knowledge, a research program,
a GPU, packages, a USD budget) and one where each is empty, so a template's `{% if %}` branches are
all rendered before a run uses them. `output_contract` holds a sentinel: a rendered operator prompt
that lacks it has left the contract out.
"""

from __future__ import annotations

from airad.agents.prompt_context import (
    BudgetLeft,
    Compute,
    DistillContext,
    KnowledgeItem,
    MemoryItem,
    NodeCounters,
    OperatorContext,
    ParentContext,
    RunCounters,
    Settings,
    TaskContext,
    in_words,
)

CONTRACT_SENTINEL = "[[the task's output contract]]"

TASK = TaskContext(
    name="penguins",
    description="Predict the species of each penguin from its measurements.",
    data_overview="- `train.csv`: 240 rows; columns: id (int64), bill_length_mm (float64), species (object)",
    metric="accuracy",
    lower_is_better=False,
    direction="higher",
)
PARENT = ParentContext(
    id=3,
    operator="draft",
    plan="Train LightGBM on the numeric columns.",
    code="import pandas as pd\nprint('Validation metric: 0.9')",
    output="Validation metric: 0.9",
    error="",
    score=0.9,
    buggy=False,
)
BUGGY = ParentContext(
    id=4,
    operator="improve",
    plan="Add one-hot island features.",
    code="import pandas as pd\nraise KeyError('island')",
    output="Traceback (most recent call last):\nKeyError: 'island'",
    error="KeyError: 'island'",
    score=None,
    buggy=True,
)
SECOND = ParentContext(
    id=5,
    operator="draft",
    plan="A random forest with 300 trees.",
    code="print('Validation metric: 0.88')",
    output="Validation metric: 0.88",
    error="",
    score=0.88,
    buggy=False,
)
MEMORY = (
    MemoryItem(node=1, operator="draft", outcome="score 0.85", score=0.85, plan="Logistic regression."),
    MemoryItem(node=2, operator="draft", outcome="bug", score=None, plan="A neural network."),
)
KNOWLEDGE = (KnowledgeItem("family.lightgbm", 2, "model_family", "helped", "LightGBM beat linear models.", 0.7),)
PARENTS = {"draft": (), "improve": (PARENT,), "debug": (BUGGY,), "crossover": (PARENT, SECOND), "analyze": ()}


def _context(operator: str, full: bool) -> OperatorContext:
    return OperatorContext(
        operator=operator,
        task=TASK if full else TaskContext(name="t", description="A task.", data_overview="- `train.csv`"),
        output_contract=CONTRACT_SENTINEL,
        parents=PARENTS[operator],
        memory=MEMORY if full else (),
        program="## Goal\nBeat 0.95 accuracy without deep learning." if full else "",
        knowledge=KNOWLEDGE if full else (),
        compute=Compute("container", 4, 16384, 1, ("NVIDIA H100 80GB HBM3",))
        if full
        else Compute("local", 1, None, 0, ()),
        time_limit_s=600.0 if full else 45.0,
        time_limit=in_words(600.0 if full else 45.0),
        budget_left=BudgetLeft(12, 3000.0, 4.5, 100_000) if full else BudgetLeft(1, 60.0, None, None),
        packages=("lightgbm==4.6.0", "numpy==2.2.6", "pandas==2.3.3", "scikit-learn==1.7.2") if full else (),
        complexity="normal" if full else "simple",
        node=NodeCounters(id=6, debug_depth=1 if operator == "debug" else 0, siblings=2 if full else 0),
        run=RunCounters(nodes=6, drafts=3, good=3, buggy=1, best_score=0.9) if full else RunCounters(0, 0, 0, 0, None),
        settings=Settings(diverse_drafts=full, memory="scoped", memory_size=8),
        solution=(PARENT if full else BUGGY) if operator == "analyze" else None,
    )


def _distill(full: bool) -> DistillContext:
    return DistillContext(
        operator="distill",
        task=TASK,
        output_contract=CONTRACT_SENTINEL,
        run_id="penguins-0",
        findings_json='[\n{"key": "family.lightgbm", "node_ids": [3], "deltas": [0.05]}\n]',
        current_knowledge=KNOWLEDGE if full else (),
    )


def sample_contexts(operator: str) -> tuple[OperatorContext | DistillContext, ...]:
    """The full and the empty sample context of `operator`."""
    if operator == "distill":
        return (_distill(True), _distill(False))
    return (_context(operator, True), _context(operator, False))
