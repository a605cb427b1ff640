"""The task kind `friedman`: scikit-learn's Friedman #1 regression problem, laid out as every airad
table task is (public train/test files, private answers, validation and test rows held back)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
from airad.tasks import split_secret
from airad.tasks.metrics import METRICS
from airad.tasks.plugin_api import TaskPlugin
from airad.tasks.table import TableTask, is_prepared, write_layout
from msgspec import Meta, Struct
from sklearn.datasets import make_friedman1

DESCRIPTION = """# Friedman #1

Each row has ten features `x0` ... `x9`, drawn uniformly from [0, 1]; only the first five matter.
Predict the real-valued `target`. Submissions are scored by root mean squared error (lower is better).
"""

MAX_ROWS = 1_000_000


class Friedman(Struct, frozen=True, forbid_unknown_fields=True, tag="friedman", tag_field="kind"):
    """`task = {kind = "friedman", rows = 2000, noise = 1.0}`"""

    rows: Annotated[int, Meta(ge=200, description="Rows generated; a fifth is held out as the test split.")] = 2000
    noise: Annotated[float, Meta(ge=0, description="Standard deviation of the Gaussian noise on the target.")] = 1.0


def task_name(params: Friedman) -> str:
    """The task's name, which also names its folder and its split draws: one per set of parameters."""
    return f"friedman-{params.rows}-{params.noise:g}"


def open_friedman(params: Friedman, seed: int, tasks_root: Path) -> TableTask:
    """Prepare the data once per (parameters, seed, split secret), atomically, and open it.

    The data are the same for every seed (`random_state=0`); the installation's split secret draws
    the test rows, and the secret with the run's seed the validation rows, so no script can redraw
    either split."""
    secret = split_secret.load_or_create(tasks_root)
    name = task_name(params)
    root = tasks_root / name / f"seed-{seed}-split-{split_secret.layout_tag(secret)}"
    if not is_prepared(root):
        features, target = make_friedman1(n_samples=params.rows, noise=params.noise, random_state=0)
        frame = pd.DataFrame(features, columns=[f"x{i}" for i in range(features.shape[1])]).assign(target=target)
        test_rows, labelled_rows = split_secret.held_out_rows(secret, name, len(frame), 0.2)
        write_layout(
            root,
            frame,
            test_rows,
            labelled_rows,
            target="target",
            id_column="id",
            validation_fraction=0.2,
            seed=split_secret.derive_seed(secret, f"{name}|{seed}"),
            sample_value=0.0,
            description=DESCRIPTION,
        )
    return TableTask(name, root, METRICS["rmse"])


def friedman_problem(params: Friedman) -> tuple[str, str] | None:
    """What intake refuses beyond the struct's own constraints."""
    if params.rows > MAX_ROWS:
        return "rows", f"at most {MAX_ROWS:,} rows"
    return None


TASK = TaskPlugin(params=Friedman, open=open_friedman, problem=friedman_problem)
