"""Script tasks: the user's own project, scored by the number its script writes to a metric file.

`task = {kind = "script", dir = "my-project", metric = "accuracy", metric_key = "accuracy"}`: every
node's script runs in a fresh work dir with the project read-only at ./input/, and must write the
metric file (`metrics.json` by default) into the work dir. The executor collects that file as the
node's output, and the harness, not the model, reads the score from it; a missing or garbled file
fails scoring with the reason on `node.scored`, and the search goes on.

The score is the script's own validation metric, so there is no held-out test score unless the
script also writes one under `test_key` (recorded on `node.tested`, for reports only); without it
`node.tested` carries no score and reports show none.
"""

from __future__ import annotations

from pathlib import Path

from airad.agents.operators import TaskBrief
from airad.schemas.request import ScriptTask
from airad.tasks.grading.grades import Grades, Score
from airad.tasks.grading.metric_file import read_metric

MAX_LISTED_FILES = 40
SKIPPED_DIRS = {"__pycache__", ".git", ".venv", "node_modules"}


def script_task_problem(spec: ScriptTask) -> tuple[str, str] | None:
    """(field, reason) when the script task cannot be opened, else None. Cheap: reads no data."""
    if not Path(spec.dir).is_dir():
        return "$.task.dir", f"{spec.dir} is not a directory on the daemon's host"
    if spec.test_key is not None and spec.metric_key is None:
        reason = "a test score needs metric_key too: a metric file with one number has no room for a second"
        return "$.task.test_key", reason
    if spec.test_key is not None and spec.test_key == spec.metric_key:
        return "$.task.test_key", f"test_key must differ from metric_key ({spec.metric_key!r})"
    return None


def prepare_script(spec: ScriptTask) -> ScriptProject:
    """Open a script task (nothing to prepare: the project directory is the input)."""
    return ScriptProject(spec)


def metric_format(spec: ScriptTask) -> str:
    """How the script writes the score, in words."""
    if spec.metric_key is None:
        return f"`{spec.metric_file}` holding just the number"
    return f"`{spec.metric_file}` as a JSON object with the key `{spec.metric_key}`"


class ScriptProject:
    """A script task: implements `Task`, scoring a node by the metric file it wrote."""

    def __init__(self, spec: ScriptTask):
        self.spec = spec
        self.public_dir = Path(spec.dir).resolve()
        self.name = spec.title or self.public_dir.name
        self.submission_path = spec.metric_file
        self._brief: TaskBrief | None = None

    def brief(self) -> TaskBrief:
        """The description, the project's files and a response format that asks for the metric file."""
        if self._brief is None:
            self._brief = TaskBrief(
                self._description(),
                project_overview(self.public_dir),
                self._response_format(),
                metric=self.spec.metric,
                lower_is_better=self.spec.lower_is_better,
                metric_report=(
                    f"The script writes {self.spec.metric} to {metric_format(self.spec)} in its working directory; "
                    "the harness reads the score from that file (printing it is optional)."
                ),
                metric_printed=False,
            )
        return self._brief

    def grade(self, submission: bytes | None) -> Grades:
        """Read the validation score (and a test score, when the task names one) from the metric file."""
        spec = self.spec
        validation = read_metric(submission, spec.metric_file, spec.metric_key)
        if spec.test_key is None:
            test = Score(valid=False, error="the task has no held-out test score")
        elif not validation.valid:
            test = Score(valid=False, error=validation.error)
        else:
            test = read_metric(submission, spec.metric_file, spec.test_key)
        return Grades(spec.metric, spec.lower_is_better, validation, test)

    def _description(self) -> str:
        spec = self.spec
        summary = spec.description.strip() or "Improve the user's own script so that the metric it reports gets better."
        direction = "lower" if spec.lower_is_better else "higher"
        return (
            f"# {self.name}\n\n{summary}\n\n## Evaluation\n\n"
            f"The script reports its metric, {spec.metric} ({direction} is better), by writing {metric_format(spec)} "
            "into its working directory. The harness reads the score from that file after the script ends; "
            "a script that writes no such file, or one without a number in it, fails.\n"
        )

    def _response_format(self) -> str:
        spec = self.spec
        return (
            "Answer with a short plan (three to five sentences) and then the whole script in one ```python fenced "
            "block.\n"
            "The script runs in a fresh working directory with the user's project read-only at ./input/. Before it "
            f"ends it must write {spec.metric}, measured as the user's script measures it, to {metric_format(spec)}. "
            "Change how the model is built and trained, not how it is evaluated. There is no network."
        )


def project_overview(root: Path) -> str:
    """One line per file of the project (relative path and size; a CSV's header too), at most
    MAX_LISTED_FILES lines."""
    files = sorted(
        path
        for path in root.rglob("*")
        if path.is_file()
        and not any(part in SKIPPED_DIRS or part.startswith(".") for part in path.relative_to(root).parts)
    )
    lines = []
    for path in files[:MAX_LISTED_FILES]:
        line = f"- input/{path.relative_to(root).as_posix()} ({path.stat().st_size} bytes)"
        if path.suffix == ".csv":
            header = _first_line(path)
            if header:
                line += f"; header: {header}"
        lines.append(line)
    if len(files) > MAX_LISTED_FILES:
        lines.append(f"- ... and {len(files) - MAX_LISTED_FILES} more files")
    return "\n".join(lines) or "- (the project directory is empty)"


def _first_line(path: Path, limit: int = 300) -> str:
    with path.open("rb") as handle:
        line = handle.readline(limit).decode("utf-8", errors="replace").strip()
    return line
