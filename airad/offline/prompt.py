"""Read an operator prompt: its sections, the task's columns and metric, and earlier attempts."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from airad.agents import prompt_headings as headings

CLASSIFICATION_METRICS = ("roc_auc", "log_loss", "accuracy")
REGRESSION_METRICS = ("rmse", "rmsle", "mse", "mae", "r2")

METRIC_NAMES = {
    "roc_auc": "ROC AUC",
    "log_loss": "log loss",
    "accuracy": "accuracy",
    "rmse": "RMSE",
    "rmsle": "RMSLE",
    "mse": "mean squared error",
    "mae": "mean absolute error",
    "r2": "R²",
}

LOWER_IS_BETTER = frozenset({"log_loss", "rmse", "rmsle", "mse", "mae"})

# Most specific first: at equal positions in the text the earlier entry wins.
_METRIC_PATTERNS = (
    ("rmsle", r"root mean squared? log(arithmic)? error|\brmsle\b"),
    ("rmse", r"root mean squared? error|\brmse\b"),
    ("mae", r"mean absolute error|\bmae\b"),
    ("mse", r"mean squared error|\bmse\b"),
    ("r2", r"\br2\b|r²|\br-squared|\br squared|coefficient of determination"),
    ("log_loss", r"\blog[- ]?loss|logarithmic loss|cross[- ]entropy"),
    ("roc_auc", r"\broc\b|area under the (receiver|roc|curve)|\bauc\b"),
    ("accuracy", r"\baccuracy\b"),
)
_EVALUATION_WORDS = re.compile(r"evaluat|metric|scored|scoring|measured", re.IGNORECASE)

_HEADING = re.compile(r"^# (.+?)\s*$")
_JOB = re.compile(rf"^{re.escape(headings.JOB)}:\s*(\w+)", re.IGNORECASE)
_PARENT = re.compile(
    rf"^({re.escape(headings.SOLUTION_TO_IMPROVE)}|{re.escape(headings.BUGGY_SOLUTION)}"
    rf"|{re.escape(headings.PARENT_SOLUTION)} [A-Z]) \(node (\d+)\)$"
)
_FILE_LINE = re.compile(r"^\s*[-*]\s*`?([\w./-]+\.csv)`?\s*:\s*(.*)$")
_COLUMN = re.compile(r"\s*(.+?) \(([^()]*)\)\s*(?:,|$)")
_ROWS = re.compile(r"(\d[\d,_]*)\s+rows")
_ATTEMPT = re.compile(r"^\s*-\s*node (\d+) \((\w+), ([^)]*)\):\s*(.*)$")
_FENCE = re.compile(r"```[^\n]*\n(.*?)(?:```|$)", re.DOTALL)
_SCORE = re.compile(rf"{re.escape(headings.SCORE_LABEL)}:\s*(\S+)")
_KNOWN = re.compile(r"^- (helped|hurt) \[(\w+)\] (.*) \(atom (\S+) v(\d+), confidence ([\d.]+)\)\s*$")


@dataclass
class Attempt:
    """One line of `# Previous attempts`: node id, operator, outcome text and plan."""

    node: int
    operator: str
    outcome: str
    plan: str


@dataclass
class KnownAtom:
    """One line of `# Knowledge from earlier runs`: what helped or hurt, per atom id and version."""

    effect: str
    kind: str
    claim: str
    atom_id: str
    version: int
    confidence: float


@dataclass
class Parent:
    """One solution shown in the prompt: its node id (None for analyze's `# Solution`), plan, code, score."""

    node: int | None
    plan: str
    code: str
    score: str = ""


@dataclass
class Prompt:
    """The parts of an operator prompt the offline coder uses.

    `parent_*` describe the first solution shown; `parents` lists all of them (two for crossover).
    `output` is analyze's `# Execution output`; `program` the `# Research program` section's text;
    `metric_printed` is false where the task's scripts report their metric in a file, not the output.
    """

    job: str | None
    task: str = ""
    data: str = ""
    attempts: list[Attempt] = field(default_factory=list)
    parent_id: int | None = None
    parent_plan: str = ""
    parent_code: str = ""
    parent_score: str = ""
    error: str = ""
    parents: list[Parent] = field(default_factory=list)
    output: str = ""
    program: str = ""
    knowledge: list[KnownAtom] = field(default_factory=list)
    metric_printed: bool = True


@dataclass
class TaskFacts:
    """What the prompt says about the data: columns, sizes and the metric."""

    id_column: str | None
    target_columns: list[str] | None
    label_columns: list[str] | None
    columns: dict[str, str]
    train_rows: int | None
    metric: str
    metric_named: bool

    @property
    def problem(self) -> str:
        """Either "classification" or "regression", from the metric."""
        return "classification" if self.metric in CLASSIFICATION_METRICS else "regression"

    @property
    def has_categoricals(self) -> bool:
        """Whether any known feature column is of dtype object (or category)."""
        return any(dtype in ("object", "category", "string") for dtype in self.columns.values())


def parse_prompt(text: str) -> Prompt:
    """Split the user message into its known sections; `job` is None when there is no `# Your job:`."""
    heads = _headings(text)
    lines = text.splitlines()
    jobs = [(i, match) for i, (_, title) in enumerate(heads) if (match := _JOB.match(title))]
    if not jobs:
        return Prompt(job=None)
    job_at, job = jobs[0]
    prompt = Prompt(job=job.group(1).lower())

    def body(k: int) -> str:
        start = heads[k][0] + 1
        end = heads[k + 1][0] if k + 1 < len(heads) else len(lines)
        return "\n".join(lines[start:end]).strip()

    before = [(k, title) for k, (_, title) in enumerate(heads[:job_at])]
    attempts_at = max((k for k, title in before if title == headings.PREVIOUS_ATTEMPTS), default=None)
    data_at = max((k for k, title in before if title == headings.DATA), default=None)
    task_at = min((k for k, title in before if title == headings.TASK), default=None)
    program_at = max((k for k, title in before if title == headings.RESEARCH_PROGRAM), default=None)
    if program_at is not None:
        prompt.program = body(program_at)
    if attempts_at is not None:
        prompt.attempts = parse_attempts(body(attempts_at))
    knowledge_at = max((k for k, title in before if title == headings.KNOWLEDGE), default=None)
    if knowledge_at is not None:
        prompt.knowledge = parse_knowledge(body(knowledge_at))
    if data_at is not None:
        prompt.data = body(data_at)
    if task_at is not None:
        sections = (
            (program_at, job_at) if prompt.job == "analyze" else (data_at, program_at, attempts_at, job_at)
        )  # analyze has no # Data
        ends = [k for k in sections if k is not None and k > task_at]
        prompt.task = "\n".join(lines[heads[task_at][0] + 1 : heads[min(ends)][0]]).strip()
    for k in range(job_at + 1, len(heads)):
        title = heads[k][1]
        parent = _PARENT.match(title)
        if parent or title == headings.SOLUTION:
            prompt.parents.append(_solution(int(parent.group(2)) if parent else None, body(k)))
        elif title == headings.ERROR:
            blocks = _FENCE.findall(body(k))
            prompt.error = (blocks[0] if blocks else body(k)).strip()
        elif title == headings.EXECUTION_OUTPUT:
            blocks = _FENCE.findall(body(k))
            prompt.output = (blocks[0] if blocks else body(k)).strip()
    if prompt.parents:
        first = prompt.parents[0]
        prompt.parent_id, prompt.parent_plan, prompt.parent_code, prompt.parent_score = (
            first.node,
            first.plan,
            first.code,
            first.score,
        )
    return prompt


def _solution(node: int | None, section: str) -> Parent:
    """A solution section: the prose before its first fence, its longest code block and its score."""
    fence = section.find("```")
    blocks = _FENCE.findall(section)
    score = _SCORE.search(section)
    return Parent(
        node=node,
        plan=section[:fence].strip() if fence >= 0 else section,
        code=max(blocks, key=len) if blocks else "",
        score=score.group(1) if score else "",
    )


def parse_attempts(text: str) -> list[Attempt]:
    """The `- node N (operator, outcome): plan` lines of `# Previous attempts`."""
    found = []
    for line in text.splitlines():
        match = _ATTEMPT.match(line)
        if match:
            found.append(Attempt(int(match.group(1)), match.group(2), match.group(3), match.group(4)))
    return found


def parse_knowledge(text: str) -> list[KnownAtom]:
    """The atom lines of `# Knowledge from earlier runs`, most confident first as the prompt lists them."""
    found = []
    for line in text.splitlines():
        match = _KNOWN.match(line)
        if match:
            effect, kind, claim, atom_id, version, confidence = match.groups()
            found.append(KnownAtom(effect, kind, claim, atom_id, int(version), float(confidence)))
    return found


def task_facts(task: str, data: str) -> TaskFacts:
    """Columns from the data overview (id and targets from sample_submission) and the metric from the task."""
    files = parse_overview(data)
    train, test, sample = (files.get(name, {}) for name in ("train.csv", "test.csv", "sample_submission.csv"))
    train_columns, test_columns = train.get("columns", {}), test.get("columns", {})
    id_column = targets = None
    if sample.get("columns"):
        names = list(sample["columns"])
        id_column, targets = names[0], names[1:] or None
    elif test_columns:
        id_column = next(iter(test_columns))
        targets = [c for c in train_columns if c not in test_columns] or None
    labels = None
    if targets and train_columns:
        labels = (
            targets
            if all(t in train_columns for t in targets)
            else [c for c in train_columns if c not in test_columns][:1] or None
        )
    metric = detect_metric(task)
    named = metric is not None
    if metric is None:
        label_dtype = train_columns.get(labels[0], "") if labels else ""
        metric = "rmse" if label_dtype.startswith("float") else "accuracy"
    features = {c: t for c, t in train_columns.items() if c != id_column and c not in (labels or [])}
    return TaskFacts(id_column, targets, labels, features, train.get("rows"), metric, named)


def parse_overview(data: str) -> dict[str, dict]:
    """`{file name: {"rows": int | None, "columns": {name: dtype}}}` from the `# Data` bullet lines."""
    files: dict[str, dict] = {}
    for line in data.splitlines():
        match = _FILE_LINE.match(line)
        if not match:
            continue
        name, rest = match.group(1).split("/")[-1], match.group(2)
        rows = _ROWS.search(rest)
        columns: dict[str, str] = {}
        colon = re.search(r"columns?[^:]*:", rest)
        if colon:
            for column in _COLUMN.finditer(rest[colon.end() :]):
                columns[column.group(1).strip().strip("`")] = column.group(2).strip()
        files[name] = {"rows": int(re.sub(r"[,_]", "", rows.group(1))) if rows else None, "columns": columns}
    return files


def detect_metric(task: str) -> str | None:
    """The metric the description names, looking first at sentences about evaluation; None if none."""
    sentences = re.split(r"(?<=[.!?])\s+|\n+", task)
    focused = " ".join(s for s in sentences if _EVALUATION_WORDS.search(s))
    for text in (focused, task):
        best: tuple[int, int, str] | None = None
        for order, (name, pattern) in enumerate(_METRIC_PATTERNS):
            match = re.search(pattern, text, re.IGNORECASE)
            if match and (best is None or (match.start(), order) < best[:2]):
                best = (match.start(), order, name)
        if best:
            return best[2]
    return None


def _headings(text: str) -> list[tuple[int, str]]:
    """(line index, title) of every level-one heading outside fenced blocks."""
    found, in_fence = [], False
    for i, line in enumerate(text.splitlines()):
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
            continue
        match = None if in_fence else _HEADING.match(line)
        if match:
            found.append((i, match.group(1)))
    return found
