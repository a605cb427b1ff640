"""airad's `mlebench` grading gives MLE-bench's numbers, and `kaggle` grading the published rules'.

Each figure below is what MLE-bench's own `grade()` returns for the frames shown (checked against its
graders, github.com/openai/mle-bench, with scikit-learn 1.7.2), beside what `kaggle` grading gives.
docs/tasks.md lists these differences.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from airad.tasks.competitions import COMPETITIONS, competition
from airad.tasks.grading.grades import SubmissionError

SPOOKY = ["EAP", "HPL", "MWS"]
JIGSAW = ["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"]
LOG_LOSS = ["dog-breed-identification", "leaf-classification", "spooky-author-identification"]
# The competitions whose MLE-bench grader refuses a column it does not read; the 18 others accept one.
EXACT_COLUMNS = {
    "jigsaw-toxic-comment-classification-challenge",
    "leaf-classification",
    "plant-pathology-2020-fgvc7",
    "spooky-author-identification",
}


def grade(id: str, submission: pd.DataFrame, answers: pd.DataFrame, grading: str) -> float:
    return competition(id).grade(submission, answers, grading)


def one_hot(id: str, ids: list, truth: list[int], classes: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame({c: [int(t == i) for t in truth] for i, c in enumerate(classes)})
    frame.insert(0, "id", ids)
    return frame


def classes_of(id: str) -> list[str]:
    return SPOOKY if id.startswith("spooky") else ["c0", "c1", "c2"]


@pytest.fixture
def lite_cases():
    from tests.unit.test_competition_metrics import CASES

    return CASES


# --- log loss: float eps, no rescaling ---------------------------------------------------------------


@pytest.mark.parametrize(("grading", "expected"), [("mlebench", 18.02183), ("kaggle", 17.26939)])
def test_dogs_vs_cats_certain_mistake_is_clipped_at_float_eps(grading, expected):
    answers = pd.DataFrame({"id": [1, 2], "label": [1, 0]})
    submission = pd.DataFrame({"id": [1, 2], "label": [0.0, 0.0]})
    assert round(grade("dogs-vs-cats-redux-kernels-edition", submission, answers, grading), 5) == expected


@pytest.mark.parametrize("id", LOG_LOSS)
@pytest.mark.parametrize(("grading", "expected"), [("mlebench", 18.02183), ("kaggle", 17.26939)])
def test_multiclass_certain_mistake_is_clipped_at_float_eps(id, grading, expected):
    classes = classes_of(id)
    answers = one_hot(id, ["a", "b"], [0, 1], classes)
    submission = one_hot(id, ["a", "b"], [1, 1], classes).astype({c: float for c in classes})
    # MLE-bench: (-ln(eps) - ln(1 - eps)) / 2 with eps = 2.2e-16; kaggle: clipped at 1e-15, rows rescaled
    assert round(grade(id, submission, answers, grading), 5) == expected


@pytest.mark.parametrize("id", LOG_LOSS)
def test_a_row_summing_to_1_plus_1_05e_5_is_scored_as_it_is_by_mlebench_and_refused_by_kaggle(id):
    classes = classes_of(id)
    answers = one_hot(id, ["a", "b"], [0, 1], classes)
    submission = pd.DataFrame({"id": ["a", "b"], classes[0]: [0.6 + 1.05e-5, 0.2], classes[1]: [0.2, 0.6],
                               classes[2]: [0.2, 0.2]})
    expected = -(math.log(0.6 + 1.05e-5) + math.log(0.6)) / 2  # not divided by the row's sum
    assert grade(id, submission, answers, "mlebench") == pytest.approx(expected, rel=1e-15)
    with pytest.raises(SubmissionError, match="must sum to 1"):
        grade(id, submission, answers, "kaggle")
    off = submission.assign(**{classes[0]: [0.6 + 1.2e-5, 0.2]})  # past numpy's isclose(atol=1e-6, rtol=1e-5)
    with pytest.raises(SubmissionError, match="must sum to 1 \\(within 1.1e-05\\); 1 rows do not"):
        grade(id, off, answers, "mlebench")


# --- jigsaw: class columns by position ------------------------------------------------------------


@pytest.mark.parametrize(("grading", "expected"), [("mlebench", 0.0), ("kaggle", 1.0)])
def test_jigsaw_pairs_class_columns_by_position(grading, expected):
    answers = pd.DataFrame({"id": ["a", "b"], **{c: [1, 0] if i < 3 else [0, 1] for i, c in enumerate(JIGSAW)}})
    reordered = answers[["id", *JIGSAW[::-1]]].astype({c: float for c in JIGSAW})  # perfect, columns reversed
    assert grade("jigsaw-toxic-comment-classification-challenge", reordered, answers, grading) == expected


# --- nomad2018: rows by position -------------------------------------------------------------------


@pytest.mark.parametrize(("grading", "expected"), [("mlebench", 0.43010), ("kaggle", 0.0)])
def test_nomad_pairs_rows_by_position_not_by_id(grading, expected):
    answers = pd.DataFrame({"id": [1, 2], "formation_energy_ev_natom": [0.1, 0.3], "bandgap_energy_ev": [1.0, 3.0]})
    reordered = answers.iloc[::-1].reset_index(drop=True)  # perfect, rows reversed
    score = grade("nomad2018-predict-transparent-conductors", reordered, answers, grading)
    assert round(score, 5) == expected


# --- aptos2019: kappa over the labels that occur --------------------------------------------------------


@pytest.mark.parametrize(("grading", "expected"), [("mlebench", 0.66667), ("kaggle", 0.93333)])
def test_aptos_kappa_weighs_by_the_grades_that_occur(grading, expected):
    answers = pd.DataFrame({"id_code": ["a", "b", "c"], "diagnosis": [0, 1, 4]})
    submission = answers.assign(diagnosis=[1, 1, 4])
    assert round(grade("aptos2019-blindness-detection", submission, answers, grading), 5) == expected


# --- insults: repeated texts, paired by MLE-bench's sort ----------------------------------------------


@pytest.mark.parametrize(("grading", "expected"), [("mlebench", 0.6875), ("kaggle", 1.0)])
def test_insults_repeated_texts_follow_mlebench_unstable_sort(grading, expected):
    texts = [f'"{"abcd"[i % 4]}"' for i in range(20)]  # four texts, five times each
    insult = [i // 4 % 2 for i in range(20)]
    answers = pd.DataFrame({"Insult": insult, "Date": "", "Comment": texts, "Usage": "PrivateTest"})
    reversed_rows = answers[["Insult", "Comment"]].assign(Insult=[0.9 if y else 0.1 for y in insult]).iloc[::-1]
    # kaggle pairs the k-th copy of a text with its k-th answer (a perfect ranking); MLE-bench sorts both
    # frames on the text with pandas' default sort, which is not stable past 16 rows
    score = grade("detecting-insults-in-social-commentary", reversed_rows.reset_index(drop=True), answers, grading)
    assert score == pytest.approx(expected)


# --- spooky: the id first -----------------------------------------------------------------------------


def test_spooky_with_the_id_not_first_is_invalid_for_mlebench_and_scored_by_kaggle():
    answers = one_hot("spooky-author-identification", ["a", "b"], [0, 1], SPOOKY)
    submission = pd.DataFrame({"EAP": [0.6, 0.2], "id": ["a", "b"], "HPL": [0.2, 0.6], "MWS": [0.2, 0.2]})
    with pytest.raises(SubmissionError, match="first column is 'EAP'.*'id' must come first"):
        grade("spooky-author-identification", submission, answers, "mlebench")
    expected = -(math.log(0.6) + math.log(0.6)) / 2
    assert grade("spooky-author-identification", submission, answers, "kaggle") == pytest.approx(expected)


# --- acceptance -------------------------------------------------------------------------------------------


def test_an_extra_column_is_accepted_by_18_mlebench_graders_and_refused_by_kaggle(lite_cases):
    accepted = []
    for case in lite_cases:
        extended = case.submission.assign(extra=0.5)
        with pytest.raises(SubmissionError, match="unexpected columns \\['extra'\\]"):
            case.competition.grade(extended, case.answers, "kaggle")
        if case.id in EXACT_COLUMNS:
            with pytest.raises(SubmissionError, match="unexpected columns \\['extra'\\]"):
                case.competition.grade(extended, case.answers, "mlebench")
        else:
            score = case.competition.grade(extended, case.answers, "mlebench")
            assert score == pytest.approx(case.competition.grade(case.submission, case.answers, "mlebench"))
            accepted.append(case.id)
    assert len(accepted) == 18


@pytest.mark.parametrize(("grading", "expected"), [("mlebench", 0.96), ("kaggle", None)])
def test_aptos_grade_5_is_just_another_label_for_mlebench(grading, expected):
    answers = pd.DataFrame({"id_code": list("abcde"), "diagnosis": [0, 1, 2, 3, 4]})
    submission = answers.assign(diagnosis=[0, 1, 2, 3, 5])
    if expected is None:
        with pytest.raises(SubmissionError, match="one of the labels"):
            grade("aptos2019-blindness-detection", submission, answers, grading)
    else:  # the labels 0-5 by position: the one miss (4 as 5) is one step off
        assert round(grade("aptos2019-blindness-detection", submission, answers, grading), 5) == expected


def test_a_grade_of_2_5_is_invalid_in_both():
    answers = pd.DataFrame({"id_code": list("abc"), "diagnosis": [0, 1, 2]})
    for grading in ("mlebench", "kaggle"):
        with pytest.raises(SubmissionError):
            grade("aptos2019-blindness-detection", answers.assign(diagnosis=[0.0, 1.0, 2.5]), answers, grading)


@pytest.mark.parametrize("id", ["jigsaw-toxic-comment-classification-challenge", "plant-pathology-2020-fgvc7"])
def test_a_probability_of_1_5_is_ranked_by_the_column_wise_auc_graders(id, lite_cases):
    case = next(c for c in lite_cases if c.id == id)
    column = case.competition.target_columns[0]
    submission = case.submission.assign(**{column: case.submission[column].astype(float)})
    top = submission[column].idxmax()
    submission.loc[top, column] = 1.5  # still the highest score of its column: the ranking is unchanged
    assert case.competition.grade(submission, case.answers, "mlebench") == pytest.approx(case.expected)
    with pytest.raises(SubmissionError, match="must hold probabilities in \\[0, 1\\]"):
        case.competition.grade(submission, case.answers, "kaggle")


def test_a_probability_of_1_5_is_refused_where_mlebench_checks_the_range(lite_cases):
    for case in lite_cases:
        if case.competition.scorer.probabilities and case.id not in (
            "jigsaw-toxic-comment-classification-challenge",
            "plant-pathology-2020-fgvc7",
        ):
            column = case.competition.prediction_columns(case.submission, case.answers)[0]
            submission = case.submission.assign(**{column: case.submission[column].astype(float)})
            submission.loc[0, column] = 1.5
            with pytest.raises(SubmissionError, match="must hold probabilities in \\[0, 1\\]"):
                case.competition.grade(submission, case.answers, "mlebench")


@pytest.mark.parametrize(("grading", "expected"), [("mlebench", 0.5), ("kaggle", None)])
def test_cover_type_8_is_simply_wrong_for_mlebench(grading, expected):
    answers = pd.DataFrame({"Id": [1, 2], "Cover_Type": [1, 7]})
    submission = answers.assign(Cover_Type=[1, 8])
    if expected is None:
        with pytest.raises(SubmissionError, match="one of the labels"):
            grade("tabular-playground-series-dec-2021", submission, answers, grading)
    else:
        assert grade("tabular-playground-series-dec-2021", submission, answers, grading) == expected


@pytest.mark.parametrize(
    ("id", "frames"),
    [
        ("new-york-city-taxi-fare-prediction", (
            pd.DataFrame({"key": ["k1", "k2"], "fare_amount": [5.0, 10.0]}),
            pd.DataFrame({"key": ["k1", "not-a-key"], "fare_amount": [6.0, 7.0]}),
            math.sqrt((1 + 9) / 2),  # sorted on the key: k1 with k1, not-a-key with k2
        )),
        ("nomad2018-predict-transparent-conductors", (
            pd.DataFrame({"id": [1, 2], "formation_energy_ev_natom": [0.1, 0.2], "bandgap_energy_ev": [1.0, 3.0]}),
            pd.DataFrame({"id": [7, 7], "formation_energy_ev_natom": [0.1, 0.2], "bandgap_energy_ev": [1.0, 3.0]}),
            0.0,  # the ids are never read
        )),
    ],
)
def test_taxi_and_nomad_graders_do_not_check_ids(id, frames):
    answers, submission, expected = frames
    assert grade(id, submission, answers, "mlebench") == pytest.approx(expected)
    with pytest.raises(SubmissionError, match="not test ids|appears 2 times"):
        grade(id, submission, answers, "kaggle")


def test_an_unknown_grading_is_refused():
    case = COMPETITIONS["aerial-cactus-identification"]
    with pytest.raises(ValueError, match="unknown grading 'loose'; known: mlebench, kaggle"):
        case.grade(pd.DataFrame(), pd.DataFrame({"id": [], "has_cactus": []}), "loose")  # type: ignore[arg-type]


def test_the_default_grading_is_mlebench():
    answers = pd.DataFrame({"id": [1, 2], "label": [1, 0]})
    submission = pd.DataFrame({"id": [1, 2], "label": [0.0, 0.0]})
    assert round(competition("dogs-vs-cats-redux-kernels-edition").grade(submission, answers), 5) == 18.02183


def test_probabilities_are_used_as_written():
    """No clipping beyond float eps and no rescaling: a row summing to 1 - 1e-6 keeps its values."""
    answers = one_hot("spooky-author-identification", ["a", "b"], [0, 1], SPOOKY)
    submission = pd.DataFrame({"id": ["a", "b"], "EAP": [0.7 - 1e-6, 0.0], "HPL": [0.2, 1.0], "MWS": [0.1, 0.0]})
    expected = (-np.log(0.7 - 1e-6) - np.log1p(-np.finfo(float).eps)) / 2
    assert grade("spooky-author-identification", submission, answers, "mlebench") == pytest.approx(expected, rel=1e-15)
