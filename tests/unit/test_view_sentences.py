"""The text normalization view: held-out training sentences join the test file under new sentence ids
without their normalised tokens, which become the validation answers."""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from airad.schemas.request import MleBenchTask
from airad.tasks.competition_views import Source, ViewError, plan_view
from airad.tasks.competitions import competition
from airad.tasks.mlebench import mlebench_task_problem, prepare_mlebench

ENGLISH = "text-normalization-challenge-english-language"
RUSSIAN = "text-normalization-challenge-russian-language"
TRAIN_SENTENCES = 30
TEST_SENTENCES = 10
TRICKY = [("VERBATIM", "NA", "NA"), ("PLAIN", "null", "null"), ("PUNCT", "", ""), ("CARDINAL", "1,000", "one thousand"),
          ("CARDINAL", "1", "one"), ("PLAIN", "NaN", "NaN"), ("PUNCT", '"', '"')]


def sentence(sentence_id: int, marker: str) -> list[tuple]:
    """One sentence's tokens: tricky text, and a token whose normalised form names the sentence."""
    tokens = [("PLAIN", f"Word{sentence_id}", f"Word{sentence_id}"), *TRICKY,
              ("LETTERS", f"X{sentence_id}Y", f"x {sentence_id} y {marker}{sentence_id}z")]
    return [(sentence_id, token_id, *token) for token_id, token in enumerate(tokens)]


def zipped(frame: pd.DataFrame, path: Path) -> None:
    """Write a CSV into `path` as MLE-bench's prepare.py does: quoted strings, one member named like the zip."""
    name = path.name.removesuffix(".zip")
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(name, frame.to_csv(index=False, quotechar='"', quoting=csv.QUOTE_NONNUMERIC))


def prepared(root: Path, language: str = "en") -> pd.DataFrame:
    """A tiny competition laid out as MLE-bench leaves it; returns the public training tokens."""
    public, private = root / "public", root / "private"
    public.mkdir(parents=True)
    private.mkdir()
    columns = ["sentence_id", "token_id", "class", "before", "after"]
    train = pd.DataFrame([t for s in range(TRAIN_SENTENCES) for t in sentence(s, "label")], columns=columns)
    test = pd.DataFrame([t for s in range(TEST_SENTENCES) for t in sentence(s, "testlabel")], columns=columns)
    ids = test["sentence_id"].astype(str) + "_" + test["token_id"].astype(str)
    zipped(train, public / f"{language}_train.csv.zip")
    zipped(test.drop(columns=["after", "class"]), public / f"{language}_test_2.csv.zip")
    zipped(pd.DataFrame({"id": ids, "after": test["before"]}), public / f"{language}_sample_submission_2.csv.zip")
    pd.DataFrame({"id": ids, "after": test["after"]}).to_csv(
        private / "answers.csv", index=False, quotechar='"', quoting=csv.QUOTE_NONNUMERIC
    )
    (public / "description.md").write_text("# Text Normalization Challenge\n")
    return train


def source(root: Path) -> Source:
    return Source(root, root / "private" / "answers.csv", "en_sample_submission_2.csv.zip", None)


def build_view(root: Path, seed: int, tasks: Path, competition_id: str = ENGLISH):
    """The prepared view (a `PreparedCompetition`) holding out a fifth of the training sentences."""
    spec = MleBenchTask(competition=competition_id, data_dir=str(root), validation_fraction=0.2)
    return prepare_mlebench(spec, seed=seed, tasks_root=tasks)


def verbatim(path: Path) -> pd.DataFrame:
    """A view's CSV (zipped or not) with every field as the text it holds."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def public_text(public: Path) -> str:
    """Every public file's text, zip members included."""
    texts = []
    for path in sorted(p for p in public.rglob("*") if p.is_file()):
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                texts += [archive.read(name).decode() for name in archive.namelist()]
        else:
            texts.append(path.read_text())
    return "\n".join(texts)


def held_sentences(view: Path) -> dict[int, int]:
    """New test sentence id -> original training sentence id, read from the test file's marker token."""
    test = verbatim(view / "public" / "en_test_2.csv.zip")
    markers = test[test["before"].str.fullmatch(r"X\d+Y")]
    pairs = zip(markers["sentence_id"], markers["before"], strict=True)
    return {int(s): int(b[1:-1]) for s, b in pairs if int(s) >= TEST_SENTENCES}


def test_held_sentences_move_to_the_test_file_under_new_ids_without_their_labels(tmp_path):
    train = prepared(tmp_path / "data")
    view = build_view(tmp_path / "data", seed=3, tasks=tmp_path / "tasks").root
    public = view / "public"
    held = held_sentences(view)
    assert len(held) == 6 and sorted(held) == list(range(TEST_SENTENCES, TEST_SENTENCES + 6))

    for name in ("en_train.csv.zip", "en_test_2.csv.zip"):
        with zipfile.ZipFile(public / name) as archive:
            assert archive.namelist() == [name.removesuffix(".zip")]
            assert ',"NA"\n' in archive.read(name.removesuffix(".zip")).decode()
    view_train = verbatim(public / "en_train.csv.zip")
    assert list(view_train.columns) == ["sentence_id", "token_id", "class", "before", "after"]
    assert sorted(set(view_train["sentence_id"].astype(int))) == list(range(TRAIN_SENTENCES - 6))
    assert not set(view_train["before"]) & {f"X{s}Y" for s in held.values()}

    test = verbatim(public / "en_test_2.csv.zip")
    assert list(test.columns) == ["sentence_id", "token_id", "before"]
    for new, old in held.items():
        rows = test[test["sentence_id"] == str(new)]
        original = train[train["sentence_id"] == old]
        assert rows["before"].tolist() == original["before"].tolist()
        assert rows["token_id"].astype(int).tolist() == original["token_id"].tolist()

    text = public_text(public)
    for old in held.values():
        assert f"label{old}z" not in text
    kept = next(s for s in range(TRAIN_SENTENCES) if s not in held.values())
    assert f" label{kept}z" in text


def test_text_tokens_survive_the_view_and_the_answers_exactly(tmp_path):
    train = prepared(tmp_path / "data")
    view = build_view(tmp_path / "data", seed=5, tasks=tmp_path / "tasks").root
    public = view / "public"
    tricky = [before for _, before, _ in TRICKY]
    kept = verbatim(public / "en_train.csv.zip")
    assert kept.groupby("sentence_id")["before"].apply(list).map(lambda b: b[1:-1] == tricky).all()
    assert kept.groupby("sentence_id")["after"].apply(list).map(lambda a: a[1:-1] == [t[2] for t in TRICKY]).all()
    test = verbatim(public / "en_test_2.csv.zip")
    assert test.groupby("sentence_id")["before"].apply(list).map(lambda b: b[1:-1] == tricky).all()

    answers = verbatim(view / "private" / "answers.csv")
    validation = answers[answers["split"] == "validation"].set_index("id")["after"]
    truth = train.assign(id=train["sentence_id"].astype(str) + "_" + train["token_id"].astype(str)).set_index("id")
    for new, old in held_sentences(view).items():
        for token_id in range(len(TRICKY) + 2):
            assert validation[f"{new}_{token_id}"] == truth.loc[f"{old}_{token_id}", "after"]

    sample = verbatim(public / "en_sample_submission_2.csv.zip").set_index("id")["after"]
    assert set(sample.index) == set(answers["id"])
    before = test.assign(id=test["sentence_id"] + "_" + test["token_id"]).set_index("id")["before"]
    assert (sample[validation.index] == before[validation.index]).all()


def test_a_perfect_submission_scores_one_on_both_splits_and_a_copy_of_before_less(tmp_path):
    prepared(tmp_path / "data")
    task = build_view(tmp_path / "data", seed=0, tasks=tmp_path / "tasks")
    view = task.root

    exact = verbatim(view / "private" / "answers.csv")
    test_truth = verbatim(tmp_path / "data" / "private" / "answers.csv").set_index("id")["after"]
    exact.loc[exact["split"] == "test", "after"] = test_truth[exact.loc[exact["split"] == "test", "id"]].to_numpy()
    perfect = exact[["id", "after"]].to_csv(index=False).encode()
    grades = task.grade(perfect)
    assert grades.validation.valid and grades.validation.score == pytest.approx(1.0)
    assert grades.test.valid and grades.test.score == pytest.approx(1.0)

    sample = verbatim(view / "public" / "en_sample_submission_2.csv.zip")
    copied = task.grade(sample.to_csv(index=False).encode())
    assert copied.validation.valid and copied.validation.score < 0.95
    assert copied.test.valid and copied.test.score < 0.95


def test_the_split_depends_on_the_seed_and_is_deterministic(tmp_path):
    prepared(tmp_path / "data")
    first = held_sentences(build_view(tmp_path / "data", seed=1, tasks=tmp_path / "a").root)
    again = held_sentences(build_view(tmp_path / "data", seed=1, tasks=tmp_path / "b").root)
    other = held_sentences(build_view(tmp_path / "data", seed=2, tasks=tmp_path / "a").root)
    assert first == again
    assert set(first.values()) != set(other.values())


def test_the_russian_competition_uses_its_own_file_names(tmp_path):
    prepared(tmp_path / "data", language="ru")
    view = build_view(tmp_path / "data", seed=4, tasks=tmp_path / "tasks", competition_id=RUSSIAN).root
    names = sorted(p.name for p in (view / "public").iterdir())
    assert names == ["description.md", "ru_sample_submission_2.csv.zip", "ru_test_2.csv.zip", "ru_train.csv.zip"]
    assert len(verbatim(view / "public" / "ru_test_2.csv.zip")["sentence_id"].unique()) == TEST_SENTENCES + 6


@pytest.mark.parametrize("damage, message", [
    (lambda public: (public / "en_train.csv.zip").unlink(), "public/en_train.csv.zip is missing"),
    (lambda public: (public / "en_test_2.csv.zip").unlink(), "public/en_test_2.csv.zip is missing"),
    (lambda public: zipped(pd.DataFrame({"sentence_id": [0], "token_id": [0], "before": ["a"]}),
                           public / "en_train.csv.zip"), "lacks the columns ['class', 'after']"),
    (lambda public: zipped(pd.DataFrame({"sentence_id": [0], "token_id": [0]}),
                           public / "en_test_2.csv.zip"), "en_test_2.csv.zip lacks the columns ['before']"),
])
def test_files_that_do_not_fit_the_layout_are_refused_by_name(tmp_path, damage, message):
    prepared(tmp_path / "data")
    damage(tmp_path / "data" / "public")
    with pytest.raises(ViewError, match=message.replace("[", r"\[").replace("]", r"\]")):
        plan_view(competition(ENGLISH), source(tmp_path / "data"))
    spec = MleBenchTask(competition=ENGLISH, data_dir=str(tmp_path / "data"))
    assert message in mlebench_task_problem(spec)[1]
