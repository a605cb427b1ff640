"""The offline coder's scripts really run: clean drafts write valid submissions, debug fixes buggy ones."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network fetch when litellm imports

import asyncio
import itertools
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes

from airad.agents.answers import parse_answer
from airad.agents.operators import TaskBrief
from tests.prompting import build_prompt
from airad.agents.policy_view import NodeView, PolicyView, node_error
from airad.offline.coder import answer
from airad.offline.ensemble import as_member
from airad.offline.scripts import read_config, render

DESCRIPTIONS = {
    "cancer": (
        "# Breast cancer\n\nPredict whether a tumour is malignant.\n\n## Evaluation\n\n"
        "Submissions are evaluated on area under the ROC curve between the predicted probability "
        "and the observed target. Submit the probability of `target` for every `id`."
    ),
    "diabetes": (
        "# Diabetes progression\n\nPredict disease progression one year after baseline.\n\n## Evaluation\n\n"
        "Submissions are scored on the root mean squared error. Predict `target` for every `id`."
    ),
    "members": (
        "# Churn\n\nPredict whether a member renews.\n\n## Evaluation\n\n"
        "The evaluation metric is classification accuracy on the label `renewed` (yes or no) for every `member_id`."
    ),
}


def split(frame: pd.DataFrame, target: str, id_col: str, folder: Path) -> None:
    """Write train/test/sample_submission/description into `folder`."""
    frame = frame.copy()
    frame.insert(0, id_col, np.arange(1000, 1000 + len(frame)))
    order = np.random.RandomState(0).permutation(len(frame))
    cut = int(0.8 * len(frame))
    train, test = frame.iloc[order[:cut]], frame.iloc[order[cut:]]
    folder.mkdir(parents=True)
    train.to_csv(folder / "train.csv", index=False)
    test.drop(columns=[target]).to_csv(folder / "test.csv", index=False)
    placeholder = "no" if train[target].dtype == object else 0.0
    pd.DataFrame({id_col: test[id_col], target: placeholder}).to_csv(folder / "sample_submission.csv", index=False)


def overview(folder: Path) -> str:
    """The `# Data` overview, in the format the task loader writes."""
    lines = []
    for name in ("train.csv", "test.csv", "sample_submission.csv"):
        frame = pd.read_csv(folder / name)
        columns = ", ".join(f"{col} ({frame[col].dtype})" for col in frame.columns)
        lines.append(f"- {name}: {len(frame)} rows; columns: {columns}")
    return "\n".join([*lines, "- description.md"])


@pytest.fixture(scope="module")
def tasks(tmp_path_factory) -> dict[str, tuple[Path, TaskBrief]]:
    """Three small tasks: binary ROC AUC, regression RMSE, and categoricals with NaNs scored by accuracy."""
    root = tmp_path_factory.mktemp("tasks")
    split(load_breast_cancer(as_frame=True).frame, "target", "id", root / "cancer")
    split(load_diabetes(as_frame=True).frame, "target", "id", root / "diabetes")
    rng = np.random.RandomState(1)
    n = 600
    members = pd.DataFrame({
        "age": rng.randint(18, 80, n).astype(float),
        "monthly fee": rng.gamma(2.0, 20.0, n),
        "city": rng.choice(["Lyon", "Oslo", "Quito", None], n),
        "plan": rng.choice(["basic", "plus"], n),
        "autopay": rng.rand(n) < 0.5,
    })
    members.loc[rng.rand(n) < 0.1, "age"] = np.nan
    score = 0.03 * members["age"].fillna(45) - 0.02 * members["monthly fee"] + members["autopay"] + rng.randn(n)
    members["renewed"] = np.where(score > score.median(), "yes", "no")
    split(members, "renewed", "member_id", root / "members")
    out = {}
    for name, description in DESCRIPTIONS.items():
        (root / name / "description.md").write_text(description)
        out[name] = (root / name, TaskBrief(description, overview(root / name)))
    return out


def messages(brief: TaskBrief, operator: str, nodes=(), parents=()) -> list[dict]:
    view = PolicyView(nodes=tuple(nodes), lower_is_better=False, decisions=len(nodes))
    return [{"role": m.role, "content": m.content} for m in build_prompt(operator, brief, view, tuple(parents))]


def run(code: str, inputs: Path, workdir: Path) -> subprocess.CompletedProcess:
    """Run a script in a fresh working directory whose input/ holds the task's files."""
    workdir.mkdir(parents=True)
    shutil.copytree(inputs, workdir / "input")
    (workdir / "solution.py").write_text(code)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # OpenMP spin-waits badly on a busy, small machine
    return subprocess.run([sys.executable, "solution.py"], cwd=workdir, capture_output=True, text=True, timeout=120, env=env)


def submission_problem(workdir: Path, inputs: Path) -> str:
    """The harness's complaint about a submission, or "" when it is valid."""
    path = workdir / "submission" / "submission.csv"
    if not path.exists():
        return "no submission/submission.csv was written"
    submission, sample = pd.read_csv(path), pd.read_csv(inputs / "sample_submission.csv")
    test = pd.read_csv(inputs / "test.csv")
    for col in sample.columns:
        if col not in submission.columns:
            return f"submission is missing column '{col}'"
    if len(submission) != len(test) or submission.isna().any().any():
        return f"submission has {len(submission)} rows (some empty); expected {len(test)}"
    if list(submission[sample.columns[0]]) != list(test[sample.columns[0]]):
        return "submission ids do not match test.csv"
    return ""


def bug_of(code: str) -> str | None:
    if render(read_config(code)) == code:
        return None
    if "import numpy as np" not in code:
        return "missing_import"
    if "os.makedirs" not in code:
        return "no_makedirs"
    if "pd.DataFrame(predictions)\n" in code:
        return "no_id_column"
    return "misspelled_column"


def node(i: int, plan: str, code: str, error: str = "", score: float | None = None) -> NodeView:
    return NodeView(
        id=i, operator="draft", parent_ids=(), children=(), done=True, buggy=bool(error),
        score=score, plan=plan, code=code, error=error, debug_depth=0,
    )


@pytest.mark.parametrize("task", list(DESCRIPTIONS))
def test_clean_drafts_run_and_write_valid_submissions(tasks, task, tmp_path):
    inputs, brief = tasks[task]
    nodes, ran = [], 0
    while ran < 2:
        parsed = parse_answer(answer(messages(brief, "draft", nodes)))
        nodes.append(node(len(nodes), parsed.plan, parsed.code, score=0.5))
        if bug_of(parsed.code) is not None:
            continue
        done = run(parsed.code, inputs, tmp_path / f"draft{len(nodes)}")
        assert done.returncode == 0, done.stderr[-2000:]
        assert "Validation metric: " in done.stdout
        assert submission_problem(tmp_path / f"draft{len(nodes)}", inputs) == ""
        ran += 1
    families = [read_config(n.code)["family"] for n in nodes]
    assert len(set(families)) == len(families)


@pytest.mark.parametrize("bug", ["missing_import", "misspelled_column", "no_makedirs", "no_id_column"])
def test_buggy_draft_fails_and_its_debug_runs(tasks, bug, tmp_path):
    inputs, brief = tasks["cancer"]
    for k in itertools.count():
        variant = TaskBrief(brief.description + f"\n\nRound {k}.", brief.data_overview)
        parsed = parse_answer(answer(messages(variant, "draft")))
        if bug_of(parsed.code) == bug:
            break
        assert k < 300, f"no draft with bug {bug}"
    done = run(parsed.code, inputs, tmp_path / "buggy")
    problem = submission_problem(tmp_path / "buggy", inputs) if done.returncode == 0 else ""
    assert done.returncode != 0 or problem, f"the {bug} draft ran cleanly"
    failure = f"the script exited with status {done.returncode}" if done.returncode else ""
    error = node_error(done.stderr[-4000:], problem, failure)

    fixed = parse_answer(answer(messages(variant, "debug", [node(0, parsed.plan, parsed.code, error)], (0,))))
    assert bug_of(fixed.code) is None
    assert read_config(fixed.code) == read_config(parsed.code)
    rerun = run(fixed.code, inputs, tmp_path / "fixed")
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert submission_problem(tmp_path / "fixed", inputs) == ""


def test_improved_script_runs(tasks, tmp_path):
    inputs, brief = tasks["members"]
    draft = parse_answer(answer(messages(brief, "draft")))
    clean = render(read_config(draft.code))
    improved = parse_answer(answer(messages(brief, "improve", [node(0, draft.plan, clean, score=0.7)], (0,))))
    assert read_config(improved.code) != read_config(clean)
    done = run(improved.code, inputs, tmp_path / "improved")
    assert done.returncode == 0, done.stderr[-2000:]
    assert submission_problem(tmp_path / "improved", inputs) == ""


async def test_litellm_acompletion_returns_the_offline_answer(tasks):
    import litellm

    from airad.offline.provider import MODEL, register

    register()
    prompt = messages(tasks["cancer"][1], "draft")
    response = await litellm.acompletion(model=MODEL, messages=prompt, temperature=0.7, max_tokens=8192, timeout=600)
    assert response.choices[0].message.content == answer(prompt)
    assert response.usage.prompt_tokens > 0 and response.usage.completion_tokens > 0
    assert response.usage.completion_tokens == len(answer(prompt)) // 4
    await asyncio.sleep(0.05)  # let litellm's logging worker finish before this test's event loop closes


def clean_drafts(brief: TaskBrief, count: int) -> list[NodeView]:
    """`count` drafts of distinct families, each re-rendered without its planted bug, scored 0.5 + k/100."""
    nodes = []
    for k in range(count):
        parsed = parse_answer(answer(messages(brief, "draft", nodes)))
        nodes.append(node(k, parsed.plan, render(read_config(parsed.code)), score=0.5 + k / 100))
    return nodes


def run_valid(code: str, inputs: Path, workdir: Path) -> None:
    done = run(code, inputs, workdir)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Validation metric: " in done.stdout
    assert submission_problem(workdir, inputs) == ""


def crossover_child(brief: TaskBrief) -> tuple[list[NodeView], NodeView]:
    """Two clean drafts of different families and their crossover child (node 2)."""
    parents = clean_drafts(brief, 2)
    child = parse_answer(answer(messages(brief, "crossover", parents, (0, 1))))
    config = read_config(child.code)
    assert config["family"] == "ensemble"
    assert [as_member(read_config(n.code)) for n in parents] == config["members"]
    assert render(config) == child.code
    return parents, node(2, child.plan, child.code, score=0.6)


@pytest.mark.parametrize("task", list(DESCRIPTIONS))
def test_crossover_child_runs_and_its_improve_and_debug_do_too(tasks, task, tmp_path):
    inputs, brief = tasks[task]
    parents, child = crossover_child(brief)
    run_valid(child.code, inputs, tmp_path / "child")
    config = read_config(child.code)

    error = "Traceback (most recent call last):\n  File \"solution.py\", line 150\nNameError: name 'np' is not defined"
    buggy = node(2, child.plan, render(config, bug="missing_import"), error=error)
    fixed = parse_answer(answer(messages(brief, "debug", [*parents, buggy], (2,))))
    assert fixed.code == child.code and "import numpy as np" in fixed.plan  # the child, which just ran

    if task != "members":  # two tasks are enough for improve; keeps this test's run time down
        improved = parse_answer(answer(messages(brief, "improve", [*parents, child], (2,))))
        assert read_config(improved.code)["family"] == "ensemble" and read_config(improved.code) != config
        run_valid(improved.code, inputs, tmp_path / "improved")
