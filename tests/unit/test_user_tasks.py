"""A user's CSV and a user's frozen contract file become tasks laid out and scored like bundled ones."""

import hashlib
import tomllib

import msgspec
import numpy as np
import pandas as pd
import pytest

from airad.daemon.validation import parse_request
from airad.schemas.errors import FieldError
from airad.schemas.request import ContractTask, CsvTask
from airad.tasks import split_secret
from airad.tasks.contract import contract_task_problem, freeze
from airad.tasks.csv_task import csv_task_problem
from airad.tasks.registry import open_task, task_problem
from airad.tasks.table import split_sizes


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


@pytest.fixture(autouse=True)
def fixed_split_secret(monkeypatch):
    """One split for every run of these tests (the installation's secret is random): they check
    properties of a layout that a few splits of a 120-row table do not have by chance."""
    monkeypatch.setattr(split_secret, "load_or_create", lambda directory: bytes(range(32)))


@pytest.fixture
def csv_file(tmp_path):
    path = tmp_path / "data" / "shop.csv"
    path.parent.mkdir()
    shop_table().to_csv(path, index=False)
    return path


def _spec(path, **changes) -> CsvTask:
    fields = {"train": str(path), "target": "price", "metric": "rmse", "id_column": "sku"} | changes
    return CsvTask(**fields)


def _files(task):
    public = {name: pd.read_csv(task.public_dir / name) for name in ("train.csv", "test.csv", "sample_submission.csv")}
    return public, pd.read_csv(task.root / "private" / "answers.csv")


def test_csv_task_layout_follows_the_bundled_one(csv_file, tmp_path):
    task = open_task(_spec(csv_file), seed=3, tasks_root=tmp_path / "tasks")
    public, answers = _files(task)
    assert {p.name for p in task.public_dir.iterdir()} == {"description.md", "train.csv", "test.csv", "sample_submission.csv"}
    assert list(public["train.csv"].columns) == ["sku", "size", "colour", "age", "price"]
    assert list(public["test.csv"].columns) == ["sku", "size", "colour", "age"]
    assert list(public["sample_submission.csv"].columns) == ["sku", "price"]
    n_train, n_validation, n_test = split_sizes(120, 0.2, 0.2)
    assert len(public["train.csv"]) == n_train
    assert (answers["split"] == "validation").sum() == n_validation and (answers["split"] == "test").sum() == n_test
    assert public["train.csv"]["colour"].isna().any() and public["test.csv"]["size"].isna().any()
    description = (task.public_dir / "description.md").read_text()
    assert "# shop" in description and "root mean squared error" in description and "`price`" in description
    assert task.private_dirs == (csv_file.parent.resolve(),)


def test_no_label_of_a_scored_row_and_no_original_id_is_public(csv_file, tmp_path):
    task = open_task(_spec(csv_file), seed=3, tasks_root=tmp_path / "tasks")
    public, answers = _files(task)
    assert not set(public["train.csv"]["sku"]) & set(answers["sku"])
    assert sorted(public["test.csv"]["sku"]) == sorted(answers["sku"])
    assert "price" not in public["test.csv"].columns
    assert not set(answers["price"]) & set(public["train.csv"]["price"])
    assert not set(answers["price"]) & set(public["sample_submission.csv"]["price"])
    text = "".join((task.public_dir / name).read_text() for name in ("train.csv", "test.csv", "sample_submission.csv", "description.md"))
    assert "sku-0" not in text


def test_perfect_and_sample_submissions(csv_file, tmp_path):
    task = open_task(_spec(csv_file), seed=3, tasks_root=tmp_path / "tasks")
    _, answers = _files(task)
    perfect = task.grade(answers[["sku", "price"]].to_csv(index=False).encode())
    assert perfect.validation.score == 0.0 and perfect.test.score == 0.0 and perfect.lower_is_better
    sample = task.grade((task.public_dir / "sample_submission.csv").read_bytes())
    assert sample.validation.valid and sample.test.valid and sample.validation.score > 1


def test_the_test_split_is_fixed_and_the_validation_split_follows_the_seed(csv_file, tmp_path):
    def rows(seed, split):
        task = open_task(_spec(csv_file), seed=seed, tasks_root=tmp_path / "tasks")
        public, answers = _files(task)
        test = public["test.csv"].set_index("sku")
        return sorted(map(str, test.loc[answers[answers.split == split]["sku"]].values.tolist()))

    assert rows(1, "test") == rows(2, "test")
    assert rows(1, "validation") != rows(2, "validation")


def test_a_changed_csv_gives_a_new_layout(csv_file, tmp_path):
    root = tmp_path / "tasks"
    first = open_task(_spec(csv_file), seed=0, tasks_root=root).root
    assert open_task(_spec(csv_file), seed=0, tasks_root=root).root == first
    shop_table(seed=1).to_csv(csv_file, index=False)
    second = open_task(_spec(csv_file), seed=0, tasks_root=root)
    assert second.root != first
    assert pd.read_csv(second.root / "private" / "answers.csv")["price"].tolist() != pd.read_csv(first / "private" / "answers.csv")["price"].tolist()


def test_a_labelled_test_file_is_the_hidden_test_split(tmp_path):
    frame = shop_table(150)
    frame.iloc[:120].to_csv(tmp_path / "train.csv", index=False)
    frame.iloc[120:].to_csv(tmp_path / "test.csv", index=False)
    task = open_task(_spec(tmp_path / "train.csv", test=str(tmp_path / "test.csv")), seed=0, tasks_root=tmp_path / "t")
    public, answers = _files(task)
    test_rows = answers[answers.split == "test"]
    assert sorted(test_rows["price"]) == sorted(frame.iloc[120:]["price"])
    assert len(public["train.csv"]) + (answers.split == "validation").sum() == 120
    perfect = task.grade(answers[["sku", "price"]].to_csv(index=False).encode())
    assert perfect.test.valid and perfect.test.score == 0.0


def test_an_unlabelled_test_file_is_predicted_but_has_no_test_score(tmp_path):
    frame = shop_table(150)
    frame["age"] = frame["age"].astype(int)
    frame.iloc[:120].to_csv(tmp_path / "train.csv", index=False)
    frame.iloc[120:].drop(columns=["price"]).to_csv(tmp_path / "test.csv", index=False)
    task = open_task(_spec(tmp_path / "train.csv", test=str(tmp_path / "test.csv")), seed=0, tasks_root=tmp_path / "t")
    public, answers = _files(task)
    assert (answers.split == "test").sum() == 30 and len(public["test.csv"]) == len(answers)
    grades = task.grade((task.public_dir / "sample_submission.csv").read_bytes())
    assert grades.validation.valid
    assert not grades.test.valid and grades.test.error == "no labels for the test rows"


def test_a_binary_target_scored_by_roc_auc(tmp_path):
    frame = shop_table().assign(expensive=lambda f: f["price"] > f["price"].median()).drop(columns=["price"])
    frame.to_csv(tmp_path / "d.csv", index=False)
    task = open_task(_spec(tmp_path / "d.csv", target="expensive", metric="roc_auc"), seed=0, tasks_root=tmp_path / "t")
    grades = task.grade((task.public_dir / "sample_submission.csv").read_bytes())
    assert grades.validation.score == 0.5 and grades.test.score == 0.5
    assert "probability that `expensive` is 1" in (task.public_dir / "description.md").read_text()


def _write(tmp_path, frame, name="bad.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    "make, field, reason",
    [
        (lambda p: _spec(p / "gone.csv"), "$.task.train", "cannot read"),
        (lambda p: _spec(_write(p, shop_table()), target="nope"), "$.task.target", "has no column 'nope' (it has sku, size"),
        (lambda p: _spec(_write(p, shop_table()), metric="smape"), "$.task.metric", "unknown metric 'smape'; known (any case): accuracy, f1, f1_macro, log_loss, mae, mape, mcc"),
        (lambda p: _spec(_write(p, shop_table()), target="Prices"), "$.task.target", "has no column 'Prices'; did you mean 'price'?"),
        (lambda p: _spec(_write(p, shop_table()), id_column="uid"), "$.task.id_column", "has no column 'uid'"),
        (lambda p: _spec(_write(p, shop_table().assign(sku="same"))), "$.task.id_column", "repeats ids, e.g. 'same'"),
        (lambda p: _spec(_write(p, shop_table().rename(columns={"sku": "id"})), id_column=None), "$.task.id_column", "has a column 'id'"),
        (lambda p: _spec(_write(p, shop_table(3))), "$.task.train", "too few labelled rows (3) for the split: 2 training, 0 validation"),
        (lambda p: _spec(_write(p, shop_table()[["sku", "price"]])), "$.task.train", "no feature columns"),
        (lambda p: _spec(_write(p, shop_table()), target="colour"), "$.task.target", "rmse needs a numeric target"),
        (lambda p: _spec(_write(p, shop_table()), metric="roc_auc"), "$.task.target", "roc_auc needs a binary target"),
        (lambda p: _spec(_write(p, shop_table()), test=str(_write(p, shop_table().drop(columns=["age"]), "t.csv"))),
         "$.task.test", "lacks columns of"),
        (lambda p: _spec(_write(p, shop_table()), test=str(_write(p, shop_table().assign(price=lambda f: f["price"].where(f.index > 3)), "t.csv"))),
         "$.task.test", "column 'price' of"),
        (lambda p: _spec(_write(p, pd.DataFrame()), id_column=None), "$.task.train", "is not a readable CSV"),
    ],
)
def test_bad_csv_specs_name_the_field_and_the_reason(tmp_path, make, field, reason):
    spec = make(tmp_path)
    problem = csv_task_problem(spec)
    assert problem is not None and problem[0] == field and reason in problem[1], problem
    assert task_problem(spec) == problem
    with pytest.raises(FieldError) as caught:
        open_task(spec, 0, tmp_path / "tasks")
    assert caught.value.field == field


def test_a_request_naming_a_bad_csv_is_rejected_at_parse_time(tmp_path):
    request = f'[task]\nkind = "csv"\ntrain = "{tmp_path / "nope.csv"}"\ntarget = "y"\nmetric = "rmse"\n'
    with pytest.raises(FieldError) as caught:
        parse_request(request, toml=True)
    assert caught.value.field == "$.task.train" and "cannot read" in caught.value.reason


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


@pytest.fixture
def contract_file(csv_file):
    path = csv_file.parent / "shop_task.py"
    path.write_text(CONTRACT)
    return path


def _frozen(path) -> ContractTask:
    _, table = freeze(path)
    return msgspec.convert(tomllib.loads(table)["task"], ContractTask)


def test_freeze_prints_a_task_table_that_passes_the_fingerprint_check(contract_file):
    sha, table = freeze(contract_file)
    assert sha == hashlib.sha256(contract_file.read_bytes()).hexdigest()
    spec = _frozen(contract_file)
    assert spec.path == str(contract_file.resolve()) and spec.sha256 == sha
    assert contract_task_problem(spec) is None and task_problem(spec) is None


def test_an_edited_contract_file_is_rejected_naming_the_sha(contract_file):
    spec = _frozen(contract_file)
    contract_file.write_text(CONTRACT.replace("np.max", "np.mean"))
    field, reason = contract_task_problem(spec)
    found = hashlib.sha256(contract_file.read_bytes()).hexdigest()
    assert field == "$.task.sha256"
    assert f"{spec.path} changed since it was frozen: expected {spec.sha256}, found {found}" in reason
    with pytest.raises(FieldError, match="changed since it was frozen"):
        open_task(spec, 0, contract_file.parent / "tasks")


@pytest.mark.parametrize(
    "source, reason",
    [
        (CONTRACT.replace("def evaluate(", "def score("), "defines no function evaluate() at module level"),
        (CONTRACT.replace("def load_data(", "def load("), "defines no function load_data()"),
        (CONTRACT.replace('TARGET = "price"', ""), "does not set TARGET to a str literal"),
        (CONTRACT.replace("LOWER_IS_BETTER = True", "LOWER_IS_BETTER = 1"), "LOWER_IS_BETTER to a bool"),
        ("def load_data(:\n", "is not valid Python"),
    ],
)
def test_a_contract_breaking_file_is_rejected_naming_what_is_missing(tmp_path, source, reason):
    path = tmp_path / "task.py"
    path.write_text(source)
    spec = ContractTask(path=str(path), sha256=hashlib.sha256(path.read_bytes()).hexdigest())
    assert contract_task_problem(spec) == ("$.task.path", contract_task_problem(spec)[1])
    assert reason in contract_task_problem(spec)[1]
    with pytest.raises(ValueError, match=reason.split(" (")[0][:20]):
        freeze(path)


def test_a_missing_contract_file_names_the_path(tmp_path):
    spec = ContractTask(path=str(tmp_path / "gone.py"), sha256="0" * 64)
    assert contract_task_problem(spec)[0] == "$.task.path" and "cannot read" in contract_task_problem(spec)[1]


def test_the_contract_evaluate_grades_both_splits(contract_file):
    task = open_task(_frozen(contract_file), seed=1, tasks_root=contract_file.parent / "tasks")
    public, answers = _files(task)
    assert list(public["train.csv"].columns) == ["sku", "size", "colour", "age", "price"]
    assert "sku-0" not in (task.public_dir / "test.csv").read_text()
    description = (task.public_dir / "description.md").read_text()
    assert description.startswith("# Shop prices") and "lower is better" in description
    assert "The largest absolute error over the rows." in description
    perfect = task.grade(answers[["sku", "price"]].to_csv(index=False).encode())
    assert perfect.metric == "max_error" and perfect.lower_is_better
    assert perfect.validation.score == 0.0 and perfect.test.score == 0.0
    shifted = answers.assign(price=answers["price"] + np.where(answers.index == 0, 7.0, 2.0))
    grades = task.grade(shifted[["sku", "price"]].to_csv(index=False).encode())
    first_split = answers["split"].iloc[0]
    expected = {first_split: 7.0, ({"validation", "test"} - {first_split}).pop(): 2.0}
    assert grades.validation.score == pytest.approx(expected["validation"])
    assert grades.test.score == pytest.approx(expected["test"])


def test_a_failing_evaluate_makes_the_score_invalid_with_its_error(contract_file):
    contract_file.write_text(CONTRACT.replace('    """The largest', '    raise RuntimeError("boom")\n    """The largest'))
    task = open_task(_frozen(contract_file), seed=1, tasks_root=contract_file.parent / "tasks")
    grades = task.grade((task.public_dir / "sample_submission.csv").read_bytes())
    assert not grades.validation.valid and "evaluate() raised RuntimeError: boom" in grades.validation.error


def test_a_contract_with_a_train_test_pair_and_no_test_labels(contract_file):
    pair = CONTRACT.replace(
        '    return pd.read_csv(Path(__file__).parent / "shop.csv")',
        '    frame = pd.read_csv(Path(__file__).parent / "shop.csv")\n'
        '    return frame.iloc[:100], frame.iloc[100:].drop(columns=["price"])',
    )
    contract_file.write_text(pair)
    task = open_task(_frozen(contract_file), seed=0, tasks_root=contract_file.parent / "tasks")
    _, answers = _files(task)
    assert (answers.split == "test").sum() == 20
    grades = task.grade((task.public_dir / "sample_submission.csv").read_bytes())
    assert grades.validation.valid and grades.test.error == "no labels for the test rows"


def test_a_load_data_problem_fails_the_preparation_naming_the_file(contract_file):
    contract_file.write_text(CONTRACT.replace('TARGET = "price"', 'TARGET = "cost"'))
    with pytest.raises(FieldError) as caught:
        open_task(_frozen(contract_file), seed=0, tasks_root=contract_file.parent / "tasks")
    assert caught.value.field == "$.task.path" and "has no column 'cost'" in caught.value.reason


def test_a_misspelt_target_among_many_columns_is_suggested_though_it_is_not_listed(tmp_path):
    """House Prices: the target is column 81; the list of columns stops at 20, the suggestion does not."""
    frame = pd.DataFrame({f"Feature{i}": np.arange(40) for i in range(79)}).assign(Id=np.arange(40), SalePrice=1.0)
    with pytest.raises(FieldError) as caught:
        open_task(_spec(_write(tmp_path, frame), target="saleprice", id_column="Id"), seed=0, tasks_root=tmp_path / "t")
    assert caught.value.field == "$.task.target"
    assert "did you mean 'SalePrice'?" in caught.value.reason and "(81 columns)" in caught.value.reason


def _dataset_csv(tmp_path, loader, name: str) -> str:
    frame = loader(as_frame=True).frame
    path = tmp_path / f"{name}.csv"
    frame.to_csv(path, index=False)
    return str(path)


@pytest.mark.parametrize(
    "loader, metric, lower_is_better",
    [
        ("load_diabetes", "RMSLE", True),
        ("load_diabetes", "r2", False),
        ("load_diabetes", "MAPE", True),
        ("load_breast_cancer", "LogLoss", True),
        ("load_breast_cancer", "F1", False),
        ("load_breast_cancer", "mcc", False),
        ("load_wine", "f1_macro", False),
        ("load_wine", "QWK", False),
    ],
)
def test_each_new_metric_scores_a_csv_task_on_a_packaged_dataset(tmp_path, loader, metric, lower_is_better):
    """scikit-learn's bundled tables as a user's CSV: the metric named in any case grades the answers
    best, the sample submission validly, and a submission of the wrong kind invalid with a reason."""
    import sklearn.datasets

    path = _dataset_csv(tmp_path, getattr(sklearn.datasets, loader), loader)
    task = open_task(CsvTask(train=path, target="target", metric=metric), seed=1, tasks_root=tmp_path / "tasks")
    answers = pd.read_csv(task.root / "private" / "answers.csv")
    perfect = task.grade(answers[["id", "target"]].to_csv(index=False).encode())
    sample = task.grade((task.public_dir / "sample_submission.csv").read_bytes())
    assert perfect.metric == metric.lower().replace("logloss", "log_loss").replace("qwk", "quadratic_weighted_kappa")
    assert perfect.lower_is_better is lower_is_better
    assert perfect.validation.valid and perfect.test.valid and sample.validation.valid, (perfect, sample)
    better = (lambda a, b: a < b) if lower_is_better else (lambda a, b: a > b)
    assert better(perfect.validation.score, sample.validation.score), (perfect.validation, sample.validation)
    prose = task.grade(answers[["id"]].assign(target="many").to_csv(index=False).encode())
    assert not prose.validation.valid and prose.validation.error


def test_a_contract_file_may_name_a_built_in_metric(tmp_path):
    source = (
        '"""Diabetes progression, scored by RMSLE."""\n'
        "from sklearn.datasets import load_diabetes\n"
        'TARGET = "target"\n'
        'METRIC = "RMSLE"\n'
        "def load_data():\n"
        "    return load_diabetes(as_frame=True).frame\n"
    )
    path = tmp_path / "diabetes_task.py"
    path.write_text(source)
    sha, _ = freeze(path)
    task = open_task(ContractTask(path=str(path), sha256=sha), seed=0, tasks_root=tmp_path / "tasks")
    answers = pd.read_csv(task.root / "private" / "answers.csv")
    grades = task.grade(answers[["id", "target"]].to_csv(index=False).encode())
    assert (grades.metric, grades.lower_is_better, grades.validation.score) == ("rmsle", True, 0.0)
    assert "logarithmic error" in (task.public_dir / "description.md").read_text()
    path.write_text(source.replace('"RMSLE"', '"smape"'))
    with pytest.raises(ValueError, match="unknown metric 'smape'"):
        freeze(path)


@pytest.fixture
def penguins_csv(tmp_path) -> str:
    """Palmer penguins (a dataset shipped in a package): three islands, three years of samples."""
    from palmerpenguins import load_penguins

    path = tmp_path / "penguins.csv"
    load_penguins().to_csv(path, index=False)
    return str(path)


def _splits(task) -> dict[str, pd.DataFrame]:
    """Each split's rows with every original column: train from train.csv, the scored rows from test.csv
    joined with the harness's answers."""
    answers = pd.read_csv(task.root / "private" / "answers.csv")
    scored = pd.read_csv(task.public_dir / "test.csv").merge(answers, on="id")
    return {
        "train": pd.read_csv(task.public_dir / "train.csv"),
        "validation": scored[scored["split"] == "validation"],
        "test": scored[scored["split"] == "test"],
    }


def test_a_group_split_keeps_each_island_on_one_side(penguins_csv, tmp_path):
    spec = CsvTask(train=penguins_csv, target="species", metric="F1_macro", group_column="island")
    task = open_task(spec, seed=2, tasks_root=tmp_path / "tasks")
    islands = {name: set(rows["island"]) for name, rows in _splits(task).items()}
    assert all(islands.values()) and not (islands["train"] & islands["validation"])
    assert not (islands["train"] & islands["test"]) and not (islands["validation"] & islands["test"])
    assert task.grade((task.public_dir / "sample_submission.csv").read_bytes()).validation.valid


def test_a_time_split_puts_validation_and_test_after_training(penguins_csv, tmp_path):
    spec = CsvTask(train=penguins_csv, target="body_mass_g", metric="mape", time_column="year", id_column=None)
    parts = _splits(open_task(spec, seed=2, tasks_root=tmp_path / "tasks"))
    assert parts["train"]["year"].max() <= parts["validation"]["year"].min()
    assert parts["validation"]["year"].max() <= parts["test"]["year"].min()
    assert len(parts["test"]) == round(342 * 0.2), "rows with no body mass are dropped, a fifth of the rest is test"
    again = _splits(open_task(spec, seed=5, tasks_root=tmp_path / "tasks"))

    def rows(frame):
        return sorted(map(tuple, frame[["bill_length_mm", "body_mass_g", "year"]].astype(str).to_numpy().tolist()))

    assert rows(again["validation"]) == rows(parts["validation"]), "time, not the seed, picks the validation rows"


def test_a_classification_split_is_stratified_unless_switched_off(penguins_csv, tmp_path):
    spec = CsvTask(train=penguins_csv, target="species", metric="accuracy", validation_fraction=0.3)
    shares = {}
    for stratify in (None, False):
        task = open_task(msgspec.structs.replace(spec, stratify=stratify), seed=1, tasks_root=tmp_path / "tasks")
        parts = _splits(task)
        whole = pd.concat(parts.values())["species"].value_counts(normalize=True)
        shares[stratify] = max(
            abs(rows["species"].value_counts(normalize=True).reindex(whole.index, fill_value=0) - whole).max()
            for rows in parts.values()
        )
    assert shares[None] < 0.02 < shares[False] or shares[None] < shares[False], shares


@pytest.mark.parametrize(
    "change, field, reason",
    [
        ({"group_column": "colony"}, "$.task.group_column", "no column 'colony'"),
        ({"group_column": "sex"}, "$.task.group_column", "empty cells"),
        ({"group_column": "island", "time_column": "year"}, "$.task.time_column", "not both"),
        ({"time_column": "island"}, "$.task.time_column", "neither a number nor a date"),
        ({"stratify": True, "target": "body_mass_g", "metric": "rmse"}, "$.task.stratify", "classification metric"),
        ({"group_column": "year", "test_fraction": 0.7}, "$.task.group_column", "validation"),
    ],
)
def test_a_split_the_table_cannot_have_is_named_at_submission(penguins_csv, change, field, reason):
    spec = msgspec.structs.replace(CsvTask(train=penguins_csv, target="species", metric="accuracy"), **change)
    assert task_problem(spec) is not None
    found_field, found_reason = task_problem(spec)
    assert found_field == field and reason in found_reason, (found_field, found_reason)
