"""Each MLE-bench lite competition's grader on small hand-made answers, with scores worked out by hand,
under both gradings (`mlebench`, the default, and `kaggle`) where they agree; where they differ, each
side is pinned here or in test_mlebench_parity.py."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score, roc_auc_score

from airad.tasks.competitions import COMPETITIONS, Competition, competition
from airad.tasks.grading.grades import SubmissionError

LITE = """aerial-cactus-identification aptos2019-blindness-detection denoising-dirty-documents
detecting-insults-in-social-commentary dog-breed-identification dogs-vs-cats-redux-kernels-edition
histopathologic-cancer-detection jigsaw-toxic-comment-classification-challenge leaf-classification
mlsp-2013-birds new-york-city-taxi-fare-prediction nomad2018-predict-transparent-conductors
plant-pathology-2020-fgvc7 random-acts-of-pizza ranzcr-clip-catheter-line-classification
siim-isic-melanoma-classification spooky-author-identification tabular-playground-series-dec-2021
tabular-playground-series-may-2022 text-normalization-challenge-english-language
text-normalization-challenge-russian-language the-icml-2013-whale-challenge-right-whale-redux""".split()

RANZCR = list(COMPETITIONS["ranzcr-clip-catheter-line-classification"].target_columns)
WHALE_CLIPS = [f"20090330_000000_{2 * n}s_Test{n}.aif" for n in range(4)]
TAXI_KEYS = ["2015-01-27 13:08:24.0000002", "2009-06-15 17:26:21.0000001"]


@dataclass
class Case:
    """A competition, its answers, a submission and the score worked out by hand."""

    id: str
    answers: pd.DataFrame
    submission: pd.DataFrame
    expected: float

    @property
    def competition(self) -> Competition:
        return COMPETITIONS[self.id]

    def __repr__(self) -> str:
        return self.id


def frame(**columns) -> pd.DataFrame:
    return pd.DataFrame(columns)


def _ranzcr_answers() -> pd.DataFrame:
    rows = {name: [1, 0, 0, 1] if i % 2 else [0, 1, 1, 0] for i, name in enumerate(RANZCR)}
    return frame(
        StudyInstanceUID=["1.2.1", "1.2.2", "1.2.3", "1.2.4"], **rows, **{"CVC - Normal": [1, 1, 0, 0]},
        PatientID=list("pqrs"),
    )


def _ranzcr_submission() -> pd.DataFrame:
    answers = _ranzcr_answers()
    predictions = {name: answers[name] * 0.8 + 0.1 for name in RANZCR}
    predictions[RANZCR[0]] = 0.9 - answers[RANZCR[0]] * 0.8
    return frame(StudyInstanceUID=answers["StudyInstanceUID"], **predictions)


_rng = np.random.default_rng(7)
_SIIM_TRUTH = _rng.integers(0, 2, 30)
_SIIM_SCORES = np.round(_rng.random(30), 2)

CASES = [
    # positives c (.35), d (.8) against negatives a (.1), b (.4): c < b is the one mis-ordered pair of four
    Case("aerial-cactus-identification", frame(id=list("abcd"), has_cactus=[0, 0, 1, 1]),
         frame(id=list("abcd"), has_cactus=[0.1, 0.4, 0.35, 0.8]), 3 / 4),
    # grade 4 predicted 3: sum w*O = 1/16; grade histograms t=[1,1,1,1,1], p=[1,1,1,2,0] give
    # sum w*E = (30 + 15 + 10 + 2*15) / (5*16) = 85/80, so kappa = 1 - (5/80) / (85/80) = 16/17
    Case("aptos2019-blindness-detection", frame(id_code=list("vwxyz"), diagnosis=[0, 1, 2, 3, 4]),
         frame(id_code=list("vwxyz"), diagnosis=[0, 1, 2, 3, 3]), 16 / 17),
    # pixel errors 0, .2, 0, .4: sqrt((0 + .04 + 0 + .16) / 4) = sqrt(.05)
    Case("denoising-dirty-documents", frame(id=["1_1_1", "1_1_2", "1_2_1", "1_2_2"], value=[1.0, 0.0, 0.5, 1.0]),
         frame(id=["1_1_1", "1_1_2", "1_2_1", "1_2_2"], value=[1.0, 0.2, 0.5, 0.6]), math.sqrt(0.05)),
    # insults .9, .5 against clean .2, .6: .5 < .6 is one mis-ordered pair of four
    Case("detecting-insults-in-social-commentary",
         frame(Insult=[1, 0, 0, 1], Date=["20120618192155Z", None, "20120618221003Z", None],
               Comment=['"you idiot"', '"nice post"', '"ok then"', '"moron"'], Usage=["PrivateTest"] * 4),
         frame(Insult=[0.9, 0.2, 0.6, 0.5], Date=["20120618192155Z", None, "20120618221003Z", None],
               Comment=['"you idiot"', '"nice post"', '"ok then"', '"moron"']), 3 / 4),
    # -(ln .5 + ln .6) / 2
    Case("dog-breed-identification", frame(id=["d1", "d2"], beagle=[1, 0], pug=[0, 1], whippet=[0, 0]),
         frame(id=["d1", "d2"], beagle=[0.5, 0.2], pug=[0.25, 0.6], whippet=[0.25, 0.2]),
         -(math.log(0.5) + math.log(0.6)) / 2),
    # -(ln .8 + ln (1 - .3)) / 2
    Case("dogs-vs-cats-redux-kernels-edition", frame(id=[1, 2], label=[1, 0]), frame(id=[1, 2], label=[0.8, 0.3]),
         -(math.log(0.8) + math.log(0.7)) / 2),
    # positives .5, .9 against negatives .5, .2: the tie counts half, so (0.5 + 1 + 1 + 1) / 4
    Case("histopathologic-cancer-detection", frame(id=["h1", "h2", "h3", "h4"], label=[0, 1, 0, 1]),
         frame(id=["h1", "h2", "h3", "h4"], label=[0.5, 0.5, 0.2, 0.9]), 3.5 / 4),
    # five columns ranked perfectly, threat's positive (.3) beats two negatives of three (.1, .2, not .5);
    # the fifth row is labelled -1 (not scored): (5 + 2/3) / 6 = 17/18
    Case("jigsaw-toxic-comment-classification-challenge",
         frame(id=list("abcde"), toxic=[1, 0, 0, 1, -1], severe_toxic=[1, 0, 0, 0, -1], obscene=[0, 1, 0, 1, -1],
               threat=[0, 1, 0, 0, -1], insult=[1, 1, 0, 0, -1], identity_hate=[0, 0, 1, 0, -1]),
         frame(id=list("abcde"), toxic=[0.9, 0.1, 0.2, 0.8, 0.0], severe_toxic=[0.7, 0.1, 0.2, 0.3, 1.0],
               obscene=[0.1, 0.6, 0.2, 0.7, 0.5], threat=[0.1, 0.3, 0.2, 0.5, 0.9], insult=[0.6, 0.7, 0.2, 0.1, 0.0],
               identity_hate=[0.0, 0.1, 0.9, 0.2, 1.0]), 17 / 18),
    # -(ln .7 + ln .6) / 2
    Case("leaf-classification", frame(id=[4, 9], Acer_Mono=[1, 0], Quercus_Alba=[0, 1]),
         frame(id=[4, 9], Acer_Mono=[0.7, 0.4], Quercus_Alba=[0.3, 0.6]), -(math.log(0.7) + math.log(0.6)) / 2),
    # flattened (recording, species) rows: positives .8, .7, .25 against negatives .3, .1, .2; .25 < .3 only
    Case("mlsp-2013-birds", frame(Id=[100, 101, 102, 200, 201, 202], Probability=[1, 0, 0, 0, 1, 1]),
         frame(Id=[100, 101, 102, 200, 201, 202], Probability=[0.8, 0.3, 0.1, 0.2, 0.7, 0.25]), 8 / 9),
    # fare errors 1 and -3: sqrt((1 + 9) / 2)
    Case("new-york-city-taxi-fare-prediction",
         frame(key=TAXI_KEYS, fare_amount=[5.0, 10.0], passenger_count=[1, 2]),
         frame(key=TAXI_KEYS, fare_amount=[6.0, 7.0]), math.sqrt(5)),
    # formation exact (0); bandgap log1p errors ln 4 - ln 2 = ln 2 and 0, so sqrt(ln2^2 / 2); mean of the two columns
    Case("nomad2018-predict-transparent-conductors",
         frame(id=[1, 2], formation_energy_ev_natom=[0.1, 0.2], bandgap_energy_ev=[1.0, 3.0], spacegroup=[33, 194]),
         frame(id=[1, 2], formation_energy_ev_natom=[0.1, 0.2], bandgap_energy_ev=[3.0, 3.0]),
         (0 + math.log(2) / math.sqrt(2)) / 2),
    # three columns ranked perfectly, scab's positive (.3) beats two negatives of three: (3 + 2/3) / 4 = 11/12
    Case("plant-pathology-2020-fgvc7",
         frame(image_id=["Test_0", "Test_1", "Test_2", "Test_3"], healthy=[1, 0, 0, 0], multiple_diseases=[0, 1, 0, 0],
               rust=[0, 0, 1, 0], scab=[0, 0, 0, 1]),
         frame(image_id=["Test_0", "Test_1", "Test_2", "Test_3"], healthy=[0.7, 0.1, 0.1, 0.1],
               multiple_diseases=[0.1, 0.6, 0.2, 0.1], rust=[0.1, 0.2, 0.8, 0.2], scab=[0.1, 0.2, 0.5, 0.3]), 11 / 12),
    # true/false answers; positives .6, .3 against negatives .4, .1: .3 < .4 is one pair of four
    Case("random-acts-of-pizza",
         frame(request_id=["t3_a", "t3_b", "t3_c", "t3_d"], requester_received_pizza=[True, False, True, False]),
         frame(request_id=["t3_a", "t3_b", "t3_c", "t3_d"], requester_received_pizza=[0.6, 0.4, 0.3, 0.1]), 3 / 4),
    # eight scored columns ranked perfectly, the first reversed (AUC 0); CVC - Normal is not scored: 8/9
    Case("ranzcr-clip-catheter-line-classification", _ranzcr_answers(), _ranzcr_submission(), 8 / 9),
    # scikit-learn's roc_auc_score on the same 30 rows, as an independent reference
    Case("siim-isic-melanoma-classification",
         frame(image_name=[f"ISIC_{i:07d}" for i in range(30)], target=_SIIM_TRUTH),
         frame(image_name=[f"ISIC_{i:07d}" for i in range(30)], target=_SIIM_SCORES),
         roc_auc_score(_SIIM_TRUTH, _SIIM_SCORES)),
    # -(ln .6 + ln .5 + ln .2) / 3
    Case("spooky-author-identification", frame(id=["id1", "id2", "id3"], EAP=[1, 0, 0], HPL=[0, 1, 0], MWS=[0, 0, 1]),
         frame(id=["id1", "id2", "id3"], EAP=[0.6, 0.3, 0.5], HPL=[0.2, 0.5, 0.3], MWS=[0.2, 0.2, 0.2]),
         -(math.log(0.6) + math.log(0.5) + math.log(0.2)) / 3),
    # 3 of 4 cover types right
    Case("tabular-playground-series-dec-2021",
         frame(Id=[4000000, 4000001, 4000002, 4000003], Cover_Type=[1, 2, 3, 7], Elevation=[1, 2, 3, 4]),
         frame(Id=[4000000, 4000001, 4000002, 4000003], Cover_Type=[1, 2, 2, 7]), 3 / 4),
    # positives .9, .6, .7 against negatives .65, .1: .6 < .65 is one pair of six
    Case("tabular-playground-series-may-2022",
         frame(id=[900000, 900001, 900002, 900003, 900004], target=[1, 0, 1, 1, 0]),
         frame(id=[900000, 900001, 900002, 900003, 900004], target=[0.9, 0.65, 0.6, 0.7, 0.1]), 5 / 6),
    # "twenty-twenty" is not "twenty twenty" and "The" is not "the": 2 of 4 tokens
    Case("text-normalization-challenge-english-language",
         frame(id=["0_0", "0_1", "1_0", "1_1"], after=["the", "twenty twenty", "sil", "."]),
         frame(id=["0_0", "0_1", "1_0", "1_1"], after=["The", "twenty-twenty", "sil", "."]), 2 / 4),
    Case("text-normalization-challenge-russian-language", frame(id=["0_0", "0_1", "0_2"], after=["двадцать", "и", "."]),
         frame(id=["0_0", "0_1", "0_2"], after=["двадцать", "и", ","]), 2 / 3),
    # calls .9, .4 against non-calls .2, .5: .4 < .5 is one pair of four
    Case("the-icml-2013-whale-challenge-right-whale-redux", frame(clip=WHALE_CLIPS, probability=[0, 1, 0, 1]),
         frame(clip=WHALE_CLIPS, probability=[0.2, 0.9, 0.5, 0.4]), 3 / 4),
]

BY_ID = {case.id: case for case in CASES}
BEST = {"roc_auc": 1.0, "mean_columnwise_roc_auc": 1.0, "quadratic_weighted_kappa": 1.0, "accuracy": 1.0,
        "rmse": 0.0, "rmsle_mean_columns": 0.0, "log_loss": 0.0, "multiclass_log_loss": 0.0}
LOWER_IS_BETTER = {"rmse", "rmsle_mean_columns", "log_loss", "multiclass_log_loss"}


def perfect(case: Case) -> pd.DataFrame:
    """The answers themselves as a submission (unscored -1 labels as 0)."""
    c = case.competition
    columns = [c.id_column, *c.prediction_columns(case.submission, case.answers)]
    submission = case.answers[columns].copy()
    if c.scorer.probabilities:
        submission[columns[1:]] = submission[columns[1:]].clip(0, 1).astype(float)
    return submission


def first_target(case: Case) -> str:
    return case.competition.prediction_columns(case.submission, case.answers)[0]


MODES = ["mlebench", "kaggle"]
# MLE-bench's graders for these read no ids (taxi, nomad) or pair rows by position (nomad)
IDS_UNCHECKED = {"new-york-city-taxi-fare-prediction", "nomad2018-predict-transparent-conductors"}


def graded(
    id: str, submission: pd.DataFrame, answers: pd.DataFrame | None = None, grading: str = "mlebench"
) -> float:
    answers = BY_ID[id].answers if answers is None else answers
    return competition(id).grade(submission, answers, grading)  # type: ignore[arg-type]


def test_registry_holds_exactly_the_lite_competitions():
    assert sorted(COMPETITIONS) == sorted(LITE) and len(CASES) == 22 and set(BY_ID) == set(LITE)
    for c in COMPETITIONS.values():
        assert c.lower_is_better == (c.metric in LOWER_IS_BETTER)
        assert c.answers_file in ("test.csv", "answers.csv") and c.answers_layout


def test_unknown_competition_lists_the_known_ones():
    with pytest.raises(KeyError, match="unknown competition 'titanic'.*spooky-author-identification"):
        competition("titanic")


@pytest.mark.parametrize("grading", MODES)
@pytest.mark.parametrize("case", CASES, ids=repr)
def test_hand_computed_score(case, grading):
    assert case.competition.grade(case.submission, case.answers, grading) == pytest.approx(case.expected, abs=1e-12)


@pytest.mark.parametrize("grading", MODES)
@pytest.mark.parametrize("case", CASES, ids=repr)
def test_perfect_submission_scores_the_best_value(case, grading):
    best = BEST[case.competition.metric]
    assert case.competition.grade(perfect(case), case.answers, grading) == pytest.approx(best, abs=1e-12)


def _except(cases, grading: str, ids: set[str]) -> list:
    """(case, grading) pairs of every mode, leaving out `ids` in `grading` (their behaviour there is
    pinned by test_mlebench_parity)."""
    return [
        pytest.param(case, mode, id=f"{case!r}-{mode}")
        for case in cases
        for mode in MODES
        if not (mode == grading and case.id in ids)
    ]


# MLE-bench pairs nomad's rows by position
@pytest.mark.parametrize("case, grading", _except(CASES, "mlebench", {"nomad2018-predict-transparent-conductors"}))
def test_rows_are_matched_by_id_not_by_order(case, grading):
    shuffled = case.submission.iloc[::-1].reset_index(drop=True)
    assert case.competition.grade(shuffled, case.answers, grading) == pytest.approx(case.expected, abs=1e-12)


@pytest.mark.parametrize("grading", MODES)
@pytest.mark.parametrize("case", CASES, ids=repr)
def test_missing_column_is_named(case, grading):
    column = first_target(case)
    with pytest.raises(SubmissionError, match=f"missing columns \\[{column!r}"):
        case.competition.grade(case.submission.drop(columns=[column]), case.answers, grading)


EXACT_COLUMNS = {
    "jigsaw-toxic-comment-classification-challenge",
    "leaf-classification",
    "plant-pathology-2020-fgvc7",
    "spooky-author-identification",
}


@pytest.mark.parametrize("grading", MODES)
@pytest.mark.parametrize("case", CASES, ids=repr)
def test_unexpected_column_is_named_where_the_grader_refuses_it(case, grading):
    written = case.submission.reset_index(names="Unnamed: 0")
    if grading == "mlebench" and case.id not in EXACT_COLUMNS:
        assert case.competition.grade(written, case.answers, grading) == pytest.approx(case.expected, abs=1e-12)
        return
    unnamed = r"unexpected columns \['Unnamed: 0'\] \(write the CSV with index=False\)"
    with pytest.raises(SubmissionError, match=unnamed):
        case.competition.grade(written, case.answers, grading)


@pytest.mark.parametrize("grading", MODES)
@pytest.mark.parametrize("case", CASES, ids=repr)
def test_missing_row_is_reported(case, grading):
    with pytest.raises(SubmissionError, match=f"has {len(case.answers) - 1} rows, expected {len(case.answers)}"):
        case.competition.grade(case.submission.iloc[1:], case.answers, grading)


@pytest.mark.parametrize("grading", MODES)
@pytest.mark.parametrize("case", CASES, ids=repr)
def test_unknown_id_is_named(case, grading):
    id_column = case.competition.id_column
    submission = case.submission.copy()
    submission[id_column] = submission[id_column].astype(object)
    submission.loc[0, id_column] = "no-such-id"
    if grading == "mlebench" and case.id in IDS_UNCHECKED:
        case.competition.grade(submission, case.answers, grading)  # scored: the ids are not compared
        return
    unknown = f"1 ids in column {id_column!r} are not test ids, e.g. \\['no-such-id'\\]"
    with pytest.raises(SubmissionError, match=unknown):
        case.competition.grade(submission, case.answers, grading)


@pytest.mark.parametrize("grading", MODES)
@pytest.mark.parametrize("case", CASES, ids=repr)
def test_repeated_id_is_named(case, grading):
    id_column = case.competition.id_column
    submission = case.submission.copy()
    submission.loc[1, id_column] = submission.loc[0, id_column]
    if grading == "mlebench" and case.id in {*IDS_UNCHECKED, "jigsaw-toxic-comment-classification-challenge"}:
        # scored: taxi and nomad compare no ids; jigsaw's repeat takes the place of an id whose row is
        # scored too, and pandas pairs the rows anyway
        case.competition.grade(submission, case.answers, grading)
        return
    first = case.submission[id_column].tolist()[0]
    with pytest.raises(SubmissionError, match=f"id {first!r} appears 2 times in column {id_column!r}, expected 1"):
        case.competition.grade(submission, case.answers, grading)


@pytest.mark.parametrize("grading", MODES)
@pytest.mark.parametrize("case", [c for c in CASES if not c.competition.text], ids=repr)
def test_missing_prediction_is_reported(case, grading):
    column = first_target(case)
    submission = case.submission.copy()
    submission[column] = submission[column].astype(float)
    submission.loc[1, column] = np.nan
    missing_id = case.submission[case.competition.id_column].tolist()[1]
    message = f"column {column!r} has 1 missing.* values \\(first at id {missing_id!r}"
    with pytest.raises(SubmissionError, match=message):
        case.competition.grade(submission, case.answers, grading)


# MLE-bench's jigsaw and plant-pathology graders check no range (test_mlebench_parity)
RANGE_UNCHECKED = {"jigsaw-toxic-comment-classification-challenge", "plant-pathology-2020-fgvc7"}


@pytest.mark.parametrize(
    "case, grading", _except([c for c in CASES if c.competition.scorer.probabilities], "mlebench", RANGE_UNCHECKED)
)
def test_probability_outside_0_1_is_reported(case, grading):
    column = first_target(case)
    submission = case.submission.copy()
    submission[column] = submission[column].astype(float)
    submission.loc[0, column] = 1.5
    message = f"column {column!r} must hold probabilities in \\[0, 1\\]; 1 values are not"
    with pytest.raises(SubmissionError, match=message):
        case.competition.grade(submission, case.answers, grading)


@pytest.mark.parametrize("grading", MODES)
def test_missing_id_value_is_reported(grading):
    submission = BY_ID["aerial-cactus-identification"].submission.assign(id=["a", None, "c", "d"])
    with pytest.raises(SubmissionError, match="id column 'id' has 1 empty values"):
        graded("aerial-cactus-identification", submission, grading=grading)


@pytest.mark.parametrize("grading", MODES)
def test_answers_without_the_target_are_the_harness_fault_not_the_submission(grading):
    case = BY_ID["histopathologic-cancer-detection"]
    message = "answers for histopathologic-cancer-detection lack columns \\['label'\\]"
    with pytest.raises(ValueError, match=message) as caught:
        graded(case.id, case.submission, case.answers.drop(columns=["label"]), grading)
    assert not isinstance(caught.value, SubmissionError)


@pytest.mark.parametrize("grading", MODES)
def test_numeric_ids_written_as_floats_still_match(grading):
    case = BY_ID["nomad2018-predict-transparent-conductors"]
    assert graded(case.id, case.submission.astype({"id": float}), grading=grading) == pytest.approx(case.expected)


# --- binary and multi-class log loss -------------------------------------------------------------

@pytest.mark.parametrize(("grading", "eps"), [("mlebench", float(np.finfo(float).eps)), ("kaggle", 1e-15)])
def test_binary_log_loss_clips_certain_mistakes(grading, eps):
    submission = frame(id=[1, 2], label=[0.0, 0.0])
    # the dog predicted 0 costs -ln(eps); the cat predicted 0 costs -ln(1 - eps) ~ eps
    expected = (-math.log(eps) - math.log1p(-eps)) / 2
    assert graded("dogs-vs-cats-redux-kernels-edition", submission, grading=grading) == pytest.approx(expected)


def test_kaggle_multiclass_log_loss_clips_at_1e_15_then_renormalises_rows():
    submission = frame(id=["id1", "id2", "id3"], EAP=[0.0, 1.0, 0.0], HPL=[1.0, 0.0, 0.0], MWS=[0.0, 0.0, 1.0])
    # rows become (1e-15, 1 - 1e-15, 1e-15) / (1 + 1e-15): two rows cost -ln(1e-15 / (1 + 1e-15)), one ~ 0
    expected = (2 * -math.log(1e-15 / (1 + 1e-15)) - math.log((1 - 1e-15) / (1 + 1e-15))) / 3
    assert graded("spooky-author-identification", submission, grading="kaggle") == pytest.approx(expected, rel=1e-12)


def test_mlebench_multiclass_log_loss_clips_at_float_eps_and_keeps_rows():
    submission = frame(id=["id1", "id2", "id3"], EAP=[0.0, 1.0, 0.0], HPL=[1.0, 0.0, 0.0], MWS=[0.0, 0.0, 1.0])
    eps = float(np.finfo(float).eps)  # scikit-learn's log_loss: clip to [eps, 1 - eps], rows not rescaled
    expected = (2 * -math.log(eps) - math.log1p(-eps)) / 3
    assert graded("spooky-author-identification", submission) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("grading", MODES)
def test_multiclass_rows_that_do_not_sum_to_one_are_rejected(grading):
    submission = BY_ID["spooky-author-identification"].submission.assign(MWS=[0.2, 0.2, 0.3])
    message = "must sum to 1 .*1 rows do not \\(first at id 'id3', which sums to 1.1\\)"
    with pytest.raises(SubmissionError, match=message):
        graded("spooky-author-identification", submission, grading=grading)


@pytest.mark.parametrize("grading", MODES)
def test_rows_off_by_rounding_are_renormalised_by_kaggle_only(grading):
    case = BY_ID["spooky-author-identification"]
    nudged = case.submission.assign(MWS=case.submission["MWS"] + 4e-6)
    rows = nudged[["EAP", "HPL", "MWS"]].to_numpy()
    if grading == "kaggle":
        rows = rows / rows.sum(axis=1, keepdims=True)
    expected = -np.mean(np.log(rows[[0, 1, 2], [0, 1, 2]]))
    assert graded(case.id, nudged, grading=grading) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    "id, label_column",
    [
        ("dog-breed-identification", "breed"),
        ("leaf-classification", "species"),
        ("spooky-author-identification", "author"),
    ],
)
@pytest.mark.parametrize("grading", MODES)
def test_answers_with_a_label_column_score_like_one_hot_answers(id, label_column, grading):
    case = BY_ID[id]
    classes = [c for c in case.answers.columns if c != "id"]
    labels = case.answers[classes].idxmax(axis=1)
    answers = frame(id=case.answers["id"], **{label_column: labels}, split=["validation"] * len(labels))
    assert graded(id, case.submission, answers, grading) == pytest.approx(case.expected, abs=1e-12)


@pytest.mark.parametrize("grading", MODES)
def test_classes_from_the_file_must_cover_every_answered_class(grading):
    answers = frame(id=["d1", "d2"], breed=["beagle", "akita"])
    submission = frame(id=["d1", "d2"], beagle=[0.5, 0.5], pug=[0.5, 0.5])
    with pytest.raises(SubmissionError, match="no column for classes \\['akita'\\]"):
        graded("dog-breed-identification", submission, answers, grading)


@pytest.mark.parametrize("grading", MODES)
def test_one_hot_classes_come_from_the_answers(grading):
    case = BY_ID["dog-breed-identification"]
    with pytest.raises(SubmissionError, match="missing columns \\['whippet'\\]"):
        graded(case.id, case.submission.drop(columns=["whippet"]), grading=grading)


# --- kappa, accuracy, AUC details -------------------------------------------------------------------

@pytest.mark.parametrize("grading", MODES)
def test_kappa_matches_scikit_learn_on_all_five_grades(grading):
    truth = [0, 1, 2, 3, 4, 2, 2, 1, 0, 4]
    predicted = [0, 2, 2, 3, 3, 1, 2, 1, 1, 4]
    answers = frame(id_code=[f"i{n}" for n in range(10)], diagnosis=truth)
    submission = answers.assign(diagnosis=predicted)
    expected = cohen_kappa_score(truth, predicted, weights="quadratic")
    assert graded("aptos2019-blindness-detection", submission, answers, grading) == pytest.approx(expected)


@pytest.mark.parametrize(("grading", "expected"), [("kaggle", 40 / 67), ("mlebench", 0.8)])
def test_kappa_weighs_grade_distances_by_value_or_by_position_when_middle_grades_are_absent(grading, expected):
    answers = frame(id_code=list("abc"), diagnosis=[0, 1, 4])
    submission = answers.assign(diagnosis=[0, 4, 4])
    # kaggle: O: (1, 4) off the diagonal, weight 9; E over t in {0, 1, 4} x p in {0, 4 (twice)}: (32 + 19 + 16)
    # / 3, so kappa = 1 - 9 / (67/3) = 40/67. MLE-bench (scikit-learn without labels): distances by position in
    # [0, 1, 4], so 1 -> 4 is one step: 0.8
    assert graded("aptos2019-blindness-detection", submission, answers, grading) == pytest.approx(expected)


@pytest.mark.parametrize("value, shown", [(2.5, "2.5"), (5, "5.0"), (-1, "-1.0")])
def test_kaggle_kappa_predictions_must_be_whole_grades(value, shown):
    submission = BY_ID["aptos2019-blindness-detection"].submission.assign(diagnosis=[0, 1, 2, 3, value])
    message = f"must hold one of the labels \\[0, 1, 2, 3, 4\\]; 1 values are not \\(first at id 'z': {shown}\\)"
    with pytest.raises(SubmissionError, match=message):
        graded("aptos2019-blindness-detection", submission, grading="kaggle")


@pytest.mark.parametrize(("value", "expected"), [(2.5, None), (5, 0.96), (-1, 0.0)])
def test_mlebench_kappa_takes_any_whole_grade_as_a_label(value, expected):
    submission = BY_ID["aptos2019-blindness-detection"].submission.assign(diagnosis=[0, 1, 2, 3, value])
    if expected is None:
        with pytest.raises(SubmissionError, match="cohen_kappa_score cannot score"):
            graded("aptos2019-blindness-detection", submission)
    else:
        assert graded("aptos2019-blindness-detection", submission) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("grading", MODES)
def test_cover_type_outside_1_to_7_is_rejected_by_kaggle_only_and_floats_are_fine(grading):
    case = BY_ID["tabular-playground-series-dec-2021"]
    assert graded(case.id, case.submission.astype({"Cover_Type": float}), grading=grading) == pytest.approx(0.75)
    outside = case.submission.assign(Cover_Type=[1, 2, 8, 7])
    if grading == "mlebench":
        assert graded(case.id, outside, grading=grading) == pytest.approx(0.75)
        return
    with pytest.raises(SubmissionError, match="one of the labels \\[1, 2, 3, 4, 5, 6, 7\\]"):
        graded(case.id, outside, grading=grading)


@pytest.mark.parametrize("grading", MODES)
def test_text_accuracy_treats_an_empty_field_alike_on_both_sides(grading):
    case = BY_ID["text-normalization-challenge-english-language"]
    answers = case.answers.assign(after=["the", None, "sil", "."])
    submission = case.submission.assign(after=["the", None, "sil", "!"])
    assert graded(case.id, submission, answers, grading) == pytest.approx(3 / 4)


@pytest.mark.parametrize("grading", MODES)
def test_jigsaw_unscored_rows_still_need_a_prediction(grading):
    case = BY_ID["jigsaw-toxic-comment-classification-challenge"]
    with pytest.raises(SubmissionError, match="4 rows, expected 5"):
        graded(case.id, case.submission.iloc[:4], grading=grading)


@pytest.mark.parametrize("grading", MODES)
def test_mean_columnwise_auc_matches_scikit_learn_per_column(grading):
    case = BY_ID["plant-pathology-2020-fgvc7"]
    columns = ["healthy", "multiple_diseases", "rust", "scab"]
    expected = np.mean([roc_auc_score(case.answers[c], case.submission[c]) for c in columns])
    assert graded(case.id, case.submission, grading=grading) == pytest.approx(expected)


@pytest.mark.parametrize("grading", MODES)
def test_ranzcr_accepts_and_ignores_the_two_unscored_kaggle_columns(grading):
    case = BY_ID["ranzcr-clip-catheter-line-classification"]
    extended = case.submission.assign(**{"CVC - Normal": 0.0, "Swan Ganz Catheter Present": 1.0})
    assert graded(case.id, extended, grading=grading) == pytest.approx(8 / 9)


@pytest.mark.parametrize("grading", MODES)
def test_insults_match_repeated_comments_in_order_and_need_no_date(grading):
    answers = frame(Insult=[1, 0, 0, 1], Comment=['"same"', '"same"', '"ok"', '"bad"'])
    submission = frame(Comment=['"bad"', '"same"', '"ok"', '"same"'], Insult=[0.9, 0.8, 0.1, 0.2])
    # the first "same" (label 1) gets .8, the second (label 0) gets .2: positives .8, .9 beat .2 and .1
    # (MLE-bench sorts on the text; below 17 rows pandas' sort keeps equal texts in order)
    assert graded("detecting-insults-in-social-commentary", submission, answers, grading) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("grading", "message"),
    [
        ("kaggle", "'bandgap_energy_ev' must hold values greater than -1; 1 values are not \\(first at id 2: -1.0\\)"),
        ("mlebench", "root_mean_squared_log_error cannot score.*less than or equal to -1"),
    ],
)
def test_rmsle_rejects_predictions_at_or_below_minus_one(grading, message):
    case = BY_ID["nomad2018-predict-transparent-conductors"]
    with pytest.raises(SubmissionError, match=message):
        graded(case.id, case.submission.assign(bandgap_energy_ev=[3.0, -1.0]), grading=grading)


@pytest.mark.parametrize("grading", MODES)
def test_non_numeric_prediction_is_shown(grading):
    case = BY_ID["new-york-city-taxi-fare-prediction"]
    with pytest.raises(SubmissionError, match="first at id '2009-06-15 17:26:21.0000001': '\\$7'"):
        graded(case.id, case.submission.assign(fare_amount=["6.0", "$7"]), grading=grading)
