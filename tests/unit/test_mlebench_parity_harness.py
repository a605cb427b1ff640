"""The competition harness under both gradings: one file holds the validation and the test rows; with
`mlebench` grading (the default) each split gets what MLE-bench's `grade()` would give that split's rows
read as a file of their own; `kaggle` grading checks the file against the sample submission first."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from airad.tasks.competitions import COMPETITIONS, competition
from airad.tasks.grading.competition_harness import CompetitionHarness, comparable_ids
from tests.unit.test_competition_metrics import BY_ID, CASES

INTEGER_IDS = [
    "dogs-vs-cats-redux-kernels-edition",
    "leaf-classification",
    "mlsp-2013-birds",
    "nomad2018-predict-transparent-conductors",
    "tabular-playground-series-dec-2021",
    "tabular-playground-series-may-2022",
]
NOMAD = "nomad2018-predict-transparent-conductors"
TAXI = "new-york-city-taxi-fare-prediction"


def stored(answers: pd.DataFrame, key: str, splits: list[str] | None = None) -> pd.DataFrame:
    """Answers as the harness keeps them: ids read as text, and a split column (all test by default)."""
    frame = answers.astype({key: str}).assign(split=splits or "test")
    return pd.read_csv(pd.io.common.StringIO(frame.to_csv(index=False)), dtype={key: str})


def harness(id: str, answers: pd.DataFrame, grading: str = "mlebench", **options) -> CompetitionHarness:
    """The harness, with the sample submission's columns those of the competition's hand-made case."""
    c = competition(id)
    columns = list(BY_ID[id].submission.columns)
    return CompetitionHarness(answers, c, columns, grading=grading, **options)  # type: ignore[arg-type]


def csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def test_integer_ids_are_the_six_competitions_whose_answers_number_their_rows():
    numbered = [c.id for c in CASES if pd.api.types.is_integer_dtype(c.answers[c.competition.id_column])]
    assert sorted(numbered) == INTEGER_IDS


@pytest.mark.parametrize("id", INTEGER_IDS)
def test_ids_written_as_floats_are_the_same_ids_for_mlebench(id):
    case = BY_ID[id]
    key = case.competition.id_column
    floats = csv(case.submission.astype({key: float}))
    assert b".0," in floats
    test = harness(id, stored(case.answers, key)).grade(floats).test
    assert test.valid and test.score == pytest.approx(case.expected)
    refused = harness(id, stored(case.answers, key), "kaggle").grade(floats).test
    assert not refused.valid and "not in sample_submission.csv" in refused.error


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_an_extra_column_passes_the_harness_when_the_grader_accepts_it(case):
    key = case.competition.id_column
    extended = csv(case.submission.assign(extra=1))
    graded = harness(case.id, stored(case.answers, key)).grade(extended).test
    if case.id in ("jigsaw-toxic-comment-classification-challenge", "leaf-classification",
                   "plant-pathology-2020-fgvc7", "spooky-author-identification"):
        assert not graded.valid and "unexpected columns ['extra']" in graded.error
    else:
        assert graded.valid and graded.score == pytest.approx(case.expected)
    kaggle = harness(case.id, stored(case.answers, key), "kaggle").grade(extended).test
    assert not kaggle.valid and "unexpected ['extra']" in kaggle.error


def nomad_answers() -> pd.DataFrame:
    answers = pd.DataFrame({
        "id": [1, 2, 3, 4],
        "formation_energy_ev_natom": [0.1, 0.3, 0.1, 0.3],
        "bandgap_energy_ev": [1.0, 3.0, 1.0, 3.0],
    })
    return stored(answers, "id", ["validation", "validation", "test", "test"])


def test_nomad_pairs_rows_with_the_sample_submissions_order():
    answers = nomad_answers()
    sample = ["1", "3", "2", "4"]
    perfect = answers.drop(columns="split").set_index("id").loc[sample].reset_index()
    in_order = harness(NOMAD, answers, sample_ids=sample).grade(csv(perfect))
    assert in_order.validation.score == 0.0 and in_order.test.score == 0.0
    reordered = harness(NOMAD, answers, sample_ids=sample).grade(csv(perfect.iloc[::-1]))
    assert round(reordered.validation.score, 5) == 0.43010 and round(reordered.test.score, 5) == 0.43010
    by_id = harness(NOMAD, answers).grade(csv(perfect.iloc[::-1]))  # no sample order known: paired by id
    assert by_id.validation.score == 0.0
    kaggle = harness(NOMAD, answers, "kaggle", sample_ids=sample).grade(csv(perfect.iloc[::-1]))
    assert kaggle.validation.score == 0.0


def test_nomad_needs_no_ids_at_all():
    answers = nomad_answers()
    sample = ["1", "3", "2", "4"]
    perfect = answers.drop(columns="split").set_index("id").loc[sample].reset_index()
    grades = harness(NOMAD, answers, sample_ids=sample).grade(csv(perfect.assign(id=99)))
    assert grades.validation.score == 0.0 and grades.test.score == 0.0
    without = harness(NOMAD, answers, sample_ids=sample).grade(csv(perfect.drop(columns="id")))
    assert without.validation.score == 0.0 and without.test.score == 0.0
    refused = harness(NOMAD, answers, "kaggle", sample_ids=sample).grade(csv(perfect.assign(id=99)))
    assert not refused.validation.valid


def test_taxi_keys_that_match_no_answer_take_the_unclaimed_rows():
    answers = stored(pd.DataFrame({"key": ["k1", "k2"], "fare_amount": [5.0, 10.0]}), "key", ["validation", "test"])
    grades = harness(TAXI, answers).grade(csv(pd.DataFrame({"key": ["k1", "not-a-key"], "fare_amount": [6.0, 7.0]})))
    assert grades.validation.score == pytest.approx(1.0) and grades.test.score == pytest.approx(3.0)
    kaggle = harness(TAXI, answers, "kaggle").grade(csv(pd.DataFrame({"key": ["k1", "x"], "fare_amount": [6.0, 7.0]})))
    assert not kaggle.test.valid and "not in sample_submission.csv" in kaggle.test.error


def test_a_text_repeated_across_the_splits_goes_to_each_in_turn():
    answers = pd.DataFrame({"Insult": [1, 0, 0, 1], "Comment": ['"x"', '"y"', '"x"', '"z"']})
    kept = stored(answers, "Comment", ["test", "test", "validation", "validation"])
    perfect = answers.assign(Insult=[0.9, 0.1, 0.2, 0.8])
    grades = harness("detecting-insults-in-social-commentary", kept).grade(csv(perfect))
    assert grades.test.score == 1.0 and grades.validation.score == 1.0


@pytest.mark.parametrize("grading", ["mlebench", "kaggle"])
@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (None, "no submission"),
        (b"", "not a readable CSV"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\xff\xfe", "not a readable CSV"),
        (b"id,label\n1,0.5\n2,0.5\n3,0.5\n", "3 rows, expected 4"),
        (b"id,label\n1,0.5\n2,0.5\n3,0.5\nx,0.5\n", "1 id values not in sample_submission.csv, e.g. 'x'"),
        (b"id,label\n1,0.5\n1,0.5\n3,0.5\n4,0.5\n", "repeats id values"),
        (b"id,label\n1,0.5\n2,0.5\n,0.5\n4,0.5\n", "empty"),
    ],
)
def test_a_malformed_file_is_invalid_on_both_splits_with_a_reason(grading, data, reason):
    answers = stored(pd.DataFrame({"id": [1, 2, 3, 4], "label": [0, 1, 0, 1]}), "id",
                     ["validation", "validation", "test", "test"])
    grades = harness("dogs-vs-cats-redux-kernels-edition", answers, grading).grade(data)
    assert not grades.validation.valid and not grades.test.valid
    assert reason in grades.validation.error or grading == "kaggle", grades.validation.error


def test_a_stray_word_in_the_test_rows_does_not_change_how_validation_is_scored():
    answers = stored(pd.DataFrame({"Id": [1, 2, 3, 4], "Cover_Type": [1, 2, 3, 4]}), "Id",
                     ["validation", "validation", "test", "test"])
    submission = b"Id,Cover_Type\n1,1\n2,2\n3,three\n4,4\n"
    grades = harness("tabular-playground-series-dec-2021", answers).grade(submission)
    assert grades.validation.score == 1.0  # read alone, the validation rows are numbers
    # the test rows are text, as MLE-bench would read them: scikit-learn refuses two labels of two types
    assert not grades.test.valid and "not numbers (first at id 3: 'three')" in grades.test.error


def test_ids_compare_as_pandas_reads_them():
    ids = comparable_ids(pd.Series(["1", "007", "1e3"]))
    assert ids.tolist() == [1, 7, 1000] and ids.dtype.kind == "i"
    assert comparable_ids(pd.Series(["a1", "2"])).tolist() == ["a1", "2"]
    assert comparable_ids(pd.Series([1.5, 2.0])).tolist() == [1.5, 2.0]


def test_the_harness_defaults_to_mlebench_and_refuses_an_unknown_grading():
    case = BY_ID["dogs-vs-cats-redux-kernels-edition"]
    h = CompetitionHarness(stored(case.answers, "id"), case.competition, ["id", "label"])
    assert h.grading == "mlebench"
    with pytest.raises(ValueError, match="unknown grading"):
        CompetitionHarness(stored(case.answers, "id"), case.competition, ["id", "label"], grading="loose")  # type: ignore[arg-type]
    zeros = h.grade(csv(pd.DataFrame({"id": [1, 2], "label": [0.0, 0.0]})))
    assert round(zeros.test.score, 5) == round((-math.log(2.220446049250313e-16) - math.log1p(-2.2e-16)) / 2, 5)


def test_every_competition_says_how_its_grader_pairs_rows():
    for c in COMPETITIONS.values():
        assert c.pairs_by_position("mlebench") == (c.id == NOMAD)
        assert c.checks_ids("mlebench") == (c.id not in (NOMAD, TAXI))
        assert not c.pairs_by_position("kaggle") and c.checks_ids("kaggle")
