"""What an operator's template may use: the structured context of one operator application.

Every variable a template may name is a field below (docs/operators.md lists them). The daemon builds
the context from the run's fold, the task's brief, the run's executor and the environment probed
where its scripts run; templates render it, and the offline coder reads it instead of the prompt.
"""

from __future__ import annotations

from collections.abc import Sequence

from msgspec import Struct

from airad.agents.memory import recalled
from airad.agents.operators import PRINTED_METRIC
from airad.agents.policy_view import NodeView, PolicyView
from airad.agents.script_key import script_key
from airad.schemas.events import Operator
from airad.schemas.knowledge_events import Atom
from airad.schemas.policies import OperatorSpec

OUTPUT_TAIL_CHARS = 4000
PLAN_CHARS = 300
COMPLEXITY_LEVELS = ("simple", "normal", "complex")


class TaskContext(Struct, frozen=True):
    """The task as the model sees it: its description, metric and direction, and its public data."""

    name: str
    description: str
    data_overview: str
    metric: str = ""
    lower_is_better: bool | None = None
    direction: str = ""  # "lower" or "higher" is better; "" when the task does not say
    metric_report: str = PRINTED_METRIC  # how a script reports its validation metric, by the task's contract
    metric_printed: bool = True  # whether that report is in the script's output (else in a file the harness reads)


class ParentContext(Struct, frozen=True):
    """A solution the operator works from: improve's node, debug's buggy node, crossover's two."""

    id: int
    operator: str
    plan: str
    code: str
    output: str
    error: str
    score: float | None
    buggy: bool


class MemoryItem(Struct, frozen=True):
    """One earlier attempt the prompt recalls: its node, operator, outcome, score and plan."""

    node: int
    operator: str
    outcome: str  # "bug", "score <value>" or "no score"
    score: float | None
    plan: str


class KnowledgeItem(Struct, frozen=True):
    """One knowledge atom from earlier runs of the domain."""

    atom_id: str
    version: int
    kind: str
    effect: str
    claim: str
    confidence: float


class Compute(Struct, frozen=True):
    """What one script gets where it runs: the run's executor, its CPUs, memory and GPUs, and the GPU
    models the probed host reports (empty when it reports none)."""

    executor: str
    cpus: int
    memory_mb: int | None
    gpus: int
    gpu_models: tuple[str, ...] = ()


class BudgetLeft(Struct, frozen=True):
    """What is left of the run's budget when the prompt is built; None where the run has no such limit."""

    nodes: int
    wall_seconds: float
    usd: float | None
    tokens: int | None


class NodeCounters(Struct, frozen=True):
    """The node being made: its id, its debug depth, and how many children its first parent has already."""

    id: int
    debug_depth: int
    siblings: int


class RunCounters(Struct, frozen=True):
    """The run so far: its nodes, drafts, good (scored) and buggy nodes, and its best validation score."""

    nodes: int
    drafts: int
    good: int
    buggy: int
    best_score: float | None


class Settings(Struct, frozen=True):
    """The request's operator switches that templates read."""

    diverse_drafts: bool
    memory: str
    memory_size: int


class OperatorContext(Struct, frozen=True):
    """Everything an operator's template may name (see docs/operators.md)."""

    operator: str
    task: TaskContext
    output_contract: str
    parents: tuple[ParentContext, ...]
    memory: tuple[MemoryItem, ...]
    program: str
    knowledge: tuple[KnowledgeItem, ...]
    compute: Compute
    time_limit_s: float
    time_limit: str
    budget_left: BudgetLeft
    packages: tuple[str, ...]
    complexity: str
    node: NodeCounters
    run: RunCounters
    settings: Settings
    solution: ParentContext | None = None  # analyze: the finished node under review
    tried_scripts: tuple[str, ...] = ()  # `script_key`s of the run's scripts so far: what not to propose again


class DistillContext(Struct, frozen=True):
    """What the distill template may name: the task, the run, its findings as JSON and the domain's
    current atoms."""

    operator: str
    task: TaskContext
    output_contract: str
    run_id: str
    findings_json: str
    current_knowledge: tuple[KnowledgeItem, ...]


def complexity_level(count: int) -> str:
    """AIRA's schedule: simple below 2, normal below 4, complex from then on."""
    return COMPLEXITY_LEVELS[0] if count < 2 else COMPLEXITY_LEVELS[1] if count < 4 else COMPLEXITY_LEVELS[2]


def in_words(seconds: float) -> str:
    """A duration as a person says it: "45 seconds", "10 minutes", "1 hour and 30 minutes"."""
    seconds = round(seconds)
    if seconds < 120:
        return f"{seconds} seconds"
    minutes = round(seconds / 60)
    if minutes < 120:
        return f"{minutes} minutes"
    hours, rest = divmod(minutes, 60)
    return f"{hours} hours" + (f" and {rest} minutes" if rest else "")


def outcome(node: NodeView) -> str:
    """How a finished node ended, in the words of the memory: bug, its score, or no score."""
    return "bug" if node.buggy else f"score {node.score:.6g}" if node.score is not None else "no score"


def parent_context(node: NodeView, output: str) -> ParentContext:
    """A parent as a template sees it; `output` is the tail of what its script printed."""
    return ParentContext(
        id=node.id,
        operator=node.operator,
        plan=node.plan.strip(),
        code=node.code.rstrip(),
        output=output[-OUTPUT_TAIL_CHARS:].strip(),
        error=node.error.strip(),
        score=node.score,
        buggy=node.buggy,
    )


def memory_items(view: PolicyView, operator: Operator, parent_ids: tuple[int, ...], spec: OperatorSpec):
    """The earlier attempts the operator recalls, oldest first (the request's memory settings)."""
    return tuple(
        MemoryItem(
            node=n.id,
            operator=n.operator,
            outcome=outcome(n),
            score=n.score,
            plan=" ".join(n.plan.split())[:PLAN_CHARS],
        )
        for n in recalled(view, operator, parent_ids, spec)
    )


def knowledge_items(atoms: Sequence[Atom]) -> tuple[KnowledgeItem, ...]:
    """The selected atoms as template items."""
    return tuple(
        KnowledgeItem(a.atom_id, a.version, a.kind, a.effect, " ".join(a.claim.split()), a.confidence) for a in atoms
    )


def run_counters(view: PolicyView, before: int) -> RunCounters:
    """Counts over the run's nodes made before node `before`."""
    earlier = PolicyView(nodes=view.nodes[:before], lower_is_better=view.lower_is_better, decisions=before)
    best = earlier.best()
    return RunCounters(
        nodes=before,
        drafts=sum(1 for n in earlier.nodes if n.operator == "draft"),
        good=len(earlier.valid_nodes()),
        buggy=sum(1 for n in earlier.nodes if n.done and n.buggy),
        best_score=best.score if best else None,
    )


def node_complexity(view: PolicyView, node_id: int, operator: str, parent_ids: tuple[int, ...]) -> str:
    """The complexity level of node `node_id`: a draft counts the drafts made before it, every other
    operator the children its first parent had before it."""
    if operator == "draft" or not parent_ids:
        return complexity_level(sum(1 for n in view.nodes[:node_id] if n.operator == "draft"))
    return complexity_level(sum(1 for child in view.nodes[parent_ids[0]].children if child < node_id))


class Surroundings(Struct, frozen=True):
    """What the daemon knows outside the run's tree when it builds a prompt: the task, where the
    script will run, and what is left of the budget."""

    task: TaskContext
    output_contract: str
    compute: Compute
    time_limit_s: float
    budget_left: BudgetLeft
    packages: tuple[str, ...] = ()
    program: str = ""


def operator_context(
    operator: str,
    node_id: int,
    parent_ids: tuple[int, ...],
    view: PolicyView,
    spec: OperatorSpec,
    around: Surroundings,
    atoms: Sequence[Atom] = (),
    outputs: dict[int, str] | None = None,
) -> OperatorContext:
    """The context of node `node_id`'s operator; `outputs` maps a node's id to its output's tail.
    For `analyze`, the node itself is the `solution` under review."""
    outputs = outputs or {}
    parent = view.nodes[parent_ids[0]] if parent_ids else None
    return OperatorContext(
        operator=operator,
        task=around.task,
        output_contract=around.output_contract,
        parents=tuple(parent_context(view.nodes[p], outputs.get(p, "")) for p in parent_ids),
        memory=memory_items(view, operator, parent_ids, spec) if operator != "analyze" else (),
        program=around.program.strip(),
        knowledge=knowledge_items(atoms),
        compute=around.compute,
        time_limit_s=around.time_limit_s,
        time_limit=in_words(around.time_limit_s),
        budget_left=around.budget_left,
        packages=around.packages,
        complexity=node_complexity(view, node_id, operator, parent_ids),
        node=NodeCounters(
            id=node_id,
            debug_depth=view.nodes[node_id].debug_depth if node_id < len(view.nodes) else 0,
            siblings=sum(1 for c in parent.children if c < node_id) if parent else 0,
        ),
        run=run_counters(view, min(node_id, len(view.nodes))),
        settings=Settings(spec.diverse_drafts, spec.memory, spec.memory_size),
        solution=parent_context(view.nodes[node_id], outputs.get(node_id, "")) if operator == "analyze" else None,
        tried_scripts=() if operator == "analyze" else tried_scripts(view, node_id),
    )


def tried_scripts(view: PolicyView, node_id: int) -> tuple[str, ...]:
    """The `script_key`s of the scripts of the nodes before `node_id`, sorted."""
    return tuple(sorted({script_key(n.code) for n in view.nodes[:node_id] if n.code}))
