"""One suite, every kind of task: bundled, a user's CSV, a user's frozen contract file, a user's
script project, and an MLE-bench competition (synthetic, laid out as MLE-bench's prepare step
leaves one). The shared tests are in `task_contract.py`; each class adds what only its kind promises."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from airad.schemas.request import BundledTask, ContractTask, CsvTask, MleBenchTask, ScriptTask
from airad.tasks import split_secret
from airad.tasks.contract import freeze
from airad.tasks.registry import open_task
from airad.testing.task_contract import SEED, HeldOutTaskContract, TaskContract, public_files
from tests.synthetic_competitions import tabular_playground

pytestmark = pytest.mark.timeout(120)


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


class LayoutAnswers:
    """The table layout's answers (`<root>/private/answers.csv`: the id column, the target, split),
    from which the table kinds build their perfect and bad submissions."""

    id_column = "id"
    target = "target"

    def answers(self, task) -> pd.DataFrame:
        return pd.read_csv(Path(task.root) / "private" / "answers.csv")

    def perfect(self, task) -> bytes:
        return csv_bytes(self.answers(task)[[self.id_column, self.target]])

    def held_out(self, task):
        answers = pd.read_csv(Path(task.root) / "private" / "answers.csv", dtype=str, keep_default_na=False)
        return answers, self.id_column, [self.target]

    def malformed(self, task) -> list[bytes]:
        answers = self.answers(task)[[self.id_column, self.target]]
        return [
            csv_bytes(answers.iloc[:-3]),  # rows missing
            csv_bytes(answers.drop(columns=[self.target])),  # no target column
            csv_bytes(pd.concat([answers.iloc[:-1], answers.iloc[:1]])),  # an id twice, one missing
            csv_bytes(answers.assign(**{self.target: "not a number" if self.numeric else None})),
        ]

    numeric = True


# --- bundled -------------------------------------------------------------------------------------


class TestBundledTask(LayoutAnswers, HeldOutTaskContract):
    """iris: a dataset shipped with scikit-learn, scored by accuracy."""

    numeric = False

    @pytest.fixture
    def spec(self):
        return BundledTask(name="iris")

    def bad(self, task) -> bytes:
        answers = self.answers(task)
        return csv_bytes(answers[["id"]].assign(target=(answers["target"] + 1) % 3))

    def test_its_data_ships_in_packages_that_scripts_must_not_see(self, task):
        assert task.from_packages is True

    def test_another_installations_secret_draws_another_split(self, spec, task, tmp_path):
        other_root = tmp_path / "elsewhere" / "tasks"
        split_secret.adopt(other_root, bytes(range(32)))
        other = open_task(spec, SEED, other_root)
        assert public_files(other)["train.csv"] != public_files(task)["train.csv"]


# --- a user's CSV --------------------------------------------------------------------------------


def shop_table(n: int = 120, seed: int = 0) -> pd.DataFrame:
    """Items with an id, numbers, a text category, missing values and a price to predict."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "sku": [f"sku-{i:04d}" for i in range(n)],
        "size": rng.normal(10, 3, n).round(2),
        "colour": rng.choice(["red", "green", "blue", None], n),
        "age": rng.integers(1, 30, n),
    })
    frame.loc[rng.random(n) < 0.1, "size"] = np.nan
    frame["price"] = (3 * frame["size"].fillna(10) + 5 * (frame["colour"] == "red") + rng.normal(0, 1, n)).round(3)
    return frame


@pytest.fixture
def shop_csv(tmp_path) -> Path:
    path = tmp_path / "user-data" / "shop.csv"
    path.parent.mkdir()
    shop_table().to_csv(path, index=False)
    return path


class TestCsvTask(LayoutAnswers, HeldOutTaskContract):
    """A user's labelled CSV with its own id column, scored by RMSE."""

    id_column = "sku"
    target = "price"

    @pytest.fixture
    def spec(self, shop_csv):
        return CsvTask(train=str(shop_csv), target="price", metric="rmse", id_column="sku")

    def bad(self, task) -> bytes:
        answers = self.answers(task)
        return csv_bytes(answers[["sku"]].assign(price=answers["price"] + 100))

    def test_no_original_id_is_public_and_the_users_folder_is_hidden(self, task, shop_csv):
        assert not any(b"sku-0" in data for data in public_files(task).values())
        assert task.private_dirs == (shop_csv.parent.resolve(),)


# --- a user's frozen contract file ---------------------------------------------------------------

CONTRACT = '''"""Shop prices

Predict the price of an item from its size, colour and age.
"""

from pathlib import Path

import numpy as np
import pandas as pd

TARGET = "price"
LOWER_IS_BETTER = True
ID_COLUMN = "sku"
METRIC_NAME = "max_error"


def load_data():
    return pd.read_csv(Path(__file__).parent / "shop.csv")


def evaluate(y_true, y_pred):
    """The largest absolute error over the rows."""
    return float(np.max(np.abs(np.asarray(y_true, dtype=float) - np.asarray(y_pred, dtype=float))))
'''


class TestContractTask(LayoutAnswers, HeldOutTaskContract):
    """A user's Python file defining load_data() and evaluate(), frozen by its SHA-256."""

    id_column = "sku"
    target = "price"

    @pytest.fixture
    def spec(self, shop_csv):
        path = shop_csv.parent / "shop_task.py"
        path.write_text(CONTRACT)
        sha, _ = freeze(path)
        return ContractTask(path=str(path.resolve()), sha256=sha)

    def bad(self, task) -> bytes:
        answers = self.answers(task)
        return csv_bytes(answers[["sku"]].assign(price=answers["price"] + 50))

    def test_the_metric_and_its_direction_are_the_files_own(self, task):
        grades = task.grade(self.perfect(task))
        assert (grades.metric, grades.lower_is_better) == ("max_error", True)
        assert grades.validation.score == 0.0 and grades.test.score == 0.0


# --- a user's script project ---------------------------------------------------------------------


class TestScriptTask(TaskContract):
    """A user's project scored by the metrics.json its script writes; it names a test score too."""

    @pytest.fixture
    def project(self, tmp_path) -> Path:
        root = tmp_path / "my-project"
        root.mkdir()
        scores = "{'val_rmse': 1.0, 'test_rmse': 1.1}"
        (root / "train.py").write_text(f"import json\njson.dump({scores}, open('metrics.json', 'w'))\n")
        (root / "rows.csv").write_text("a,b,y\n1,2,3\n4,5,6\n")
        return root

    @pytest.fixture
    def spec(self, project):
        return ScriptTask(
            dir=str(project), metric="rmse", lower_is_better=True, metric_key="val_rmse", test_key="test_rmse",
        )

    def perfect(self, task) -> bytes:
        return json.dumps({"val_rmse": 0.0, "test_rmse": 0.0}).encode()

    def bad(self, task) -> bytes:
        return json.dumps({"val_rmse": 9.5, "test_rmse": 11.25}).encode()

    def malformed(self, task) -> list[bytes]:
        return [
            b'{"val_rmse": "high", "test_rmse": 1}',
            b'{"rmse": 1.0}',
            b'{"val_rmse": NaN, "test_rmse": 1}',
            b"[1.0, 2.0]",
        ]

    def test_the_public_dir_is_the_users_project(self, task, project):
        assert Path(task.public_dir) == project.resolve() and task.submission_path == "metrics.json"
        assert "metrics.json" in task.brief().response_format

    def test_without_a_test_key_the_test_score_is_absent_with_a_reason(self, project, tasks_root):
        task = open_task(ScriptTask(dir=str(project), metric="rmse", lower_is_better=True), SEED, tasks_root)
        grades = task.grade(b"0.5\n")
        assert grades.validation.score == 0.5
        assert not grades.test.valid and grades.test.error == "the task has no held-out test score"


# --- an MLE-bench competition --------------------------------------------------------------------


class TestMleBenchTask(LayoutAnswers, HeldOutTaskContract):
    """tabular-playground-series-may-2022 in miniature, graded by the competition's own grader (ROC AUC)."""

    @pytest.fixture
    def competition_dir(self, tmp_path) -> Path:
        return tabular_playground(tmp_path / "tabular-playground-series-may-2022" / "prepared", n_train=150, n_test=50)

    @pytest.fixture
    def spec(self, competition_dir):
        return MleBenchTask(competition="tabular-playground-series-may-2022", data_dir=str(competition_dir))

    def perfect(self, task) -> bytes:
        return csv_bytes(self.answers(task)[["id", "target"]].astype({"target": float}))

    def bad(self, task) -> bytes:
        answers = self.answers(task)
        return csv_bytes(answers[["id"]].assign(target=1.0 - answers["target"]))

    def sample_submission(self, task) -> Path:
        return Path(task.public_dir) / task.facts.sample

    def test_the_private_folder_is_hidden_and_medals_come_from_the_leaderboard(self, task, competition_dir):
        assert task.private_dirs == (competition_dir / "private",)
        assert task.medal_thresholds is not None
        grades = task.grade(self.perfect(task))
        assert (grades.metric, grades.lower_is_better) == ("roc_auc", False)
