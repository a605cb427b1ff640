"""Medal thresholds by Kaggle's rules on hand-made leaderboards, and grading against them."""

import msgspec
import pytest

from airad.tasks.grading.medals import (
    GradingReport,
    grading_report,
    medal_ranks,
    read_leaderboard,
    thresholds_from_scores,
)


def descending(n: int) -> list[float]:
    """A higher-is-better leaderboard whose team at rank r scored 1000 - r."""
    return [1000.0 - rank for rank in range(1, n + 1)]


@pytest.mark.parametrize(
    ("teams", "ranks"),
    [
        (1, (1, 1, 1)),
        (9, (1, 1, 3)),
        (57, (5, 11, 22)),
        (99, (9, 19, 39)),
        (100, (10, 20, 40)),
        (137, (10, 27, 54)),
        (249, (10, 49, 99)),
        (250, (10, 50, 100)),
        (999, (11, 50, 100)),
        (1000, (12, 50, 100)),
        (1234, (12, 61, 123)),
        (4999, (19, 249, 499)),
    ],
)
def test_threshold_ranks_per_team_count_regime(teams, ranks):
    assert medal_ranks(teams) == ranks


def test_under_100_teams_top_10_20_40_percent():
    t = thresholds_from_scores(descending(57))
    assert (t.gold, t.silver, t.bronze) == (995.0, 989.0, 978.0)
    assert t.median == 971.0 and t.num_teams == 57 and not t.is_lower_better


def test_100_to_249_teams_rank_10_then_20_and_40_percent():
    t = thresholds_from_scores(descending(137))
    assert (t.gold, t.silver, t.bronze) == (990.0, 973.0, 946.0)
    assert t.median == 931.0


def test_250_to_999_teams_rank_10_plus_0_2_percent_then_50_and_100():
    t = thresholds_from_scores(descending(600))
    assert (t.gold, t.silver, t.bronze) == (989.0, 950.0, 900.0)
    assert t.median == 699.5


def test_1000_teams_and_more_rank_10_plus_0_2_percent_then_5_and_10_percent():
    t = thresholds_from_scores(descending(1234))
    assert (t.gold, t.silver, t.bronze) == (988.0, 939.0, 877.0)
    assert t.median == pytest.approx(1000 - 617.5)


def test_lower_is_better_is_read_from_the_order_of_the_leaderboard():
    errors = [rank / 10 for rank in range(1, 21)]
    t = thresholds_from_scores(errors)
    assert t.is_lower_better
    assert (t.gold, t.silver, t.bronze) == (0.2, 0.4, 0.8)
    assert grading_report(0.15, True, t).gold_medal
    assert grading_report(0.3, True, t).silver_medal
    assert grading_report(0.8, True, t).bronze_medal
    miss = grading_report(0.81, True, t)
    assert not miss.any_medal and miss.above_median and miss.medal is None
    assert not grading_report(1.5, True, t).above_median


def test_a_score_equal_to_a_threshold_wins_that_medal_but_not_above_median():
    t = thresholds_from_scores(descending(57))
    assert grading_report(995.0, True, t).medal == "gold"
    assert grading_report(989.0, True, t).medal == "silver"
    assert grading_report(978.0, True, t).medal == "bronze"
    at_median = grading_report(971.0, True, t)
    assert at_median.medal is None and not at_median.above_median


def test_ties_on_the_leaderboard_share_the_threshold():
    scores = [0.99, 0.95, 0.95, 0.95, 0.90, 0.90, 0.80, 0.80, 0.70, 0.60]
    t = thresholds_from_scores(scores)
    assert (t.gold, t.silver, t.bronze) == (0.99, 0.95, 0.95)
    assert grading_report(0.95, True, t).medal == "silver"
    assert grading_report(0.94, True, t).medal is None


def test_exactly_one_medal_flag_and_any_medal_agree():
    t = thresholds_from_scores(descending(137))
    for score in (999.0, 990.0, 980.0, 950.0, 946.0, 940.0):
        r = grading_report(score, True, t)
        assert r.gold_medal + r.silver_medal + r.bronze_medal == int(r.any_medal)
        assert r.above_median


def test_an_invalid_or_missing_submission_wins_nothing():
    t = thresholds_from_scores(descending(57))
    for report in (grading_report(999.0, False, t), grading_report(None, True, t), grading_report(None, False, t)):
        assert not report.valid_submission
        assert not (report.any_medal or report.gold_medal or report.silver_medal or report.bronze_medal)
        assert not report.above_median and report.medal is None
        assert report.gold_threshold == 995.0


def test_report_has_mle_bench_fields_and_is_json():
    t = thresholds_from_scores(descending(57))
    report = grading_report(996.0, True, t)
    data = msgspec.json.decode(msgspec.json.encode(report))
    assert set(data) == {
        "score", "gold_threshold", "silver_threshold", "bronze_threshold", "median_threshold", "any_medal",
        "gold_medal", "silver_medal", "bronze_medal", "above_median", "valid_submission", "is_lower_better",
    }
    assert data["gold_medal"] and data["any_medal"] and data["valid_submission"]
    assert msgspec.convert(data, GradingReport) == report
    assert t.as_dict() == {"gold": 995.0, "silver": 989.0, "bronze": 978.0, "median": 971.0}


def test_read_leaderboard_csv(tmp_path):
    path = tmp_path / "leaderboard.csv"
    rows = [f"{rank},team{rank},{0.1 * rank:.1f},2020-01-01" for rank in range(1, 21)]
    path.write_text("rank,teamName,score,submissionDate\n" + "\n".join(rows) + "\n")
    t = read_leaderboard(path)
    assert (t.gold, t.silver, t.bronze, t.is_lower_better, t.num_teams) == (0.2, 0.4, 0.8, True, 20)
    assert t.median == pytest.approx(1.05)


def test_a_leaderboard_without_scores_is_refused(tmp_path):
    path = tmp_path / "leaderboard.csv"
    path.write_text("teamName,points\na,1\n")
    with pytest.raises(ValueError, match="score"):
        read_leaderboard(path)
    with pytest.raises(ValueError):
        thresholds_from_scores([])


@pytest.mark.parametrize(
    ("score", "mlebench", "kaggle"),
    [
        (0.899996, "gold", "silver"),  # rounds to 0.9, the gold threshold
        (0.899994, "silver", "silver"),  # rounds to 0.89999
        (0.9, "gold", "gold"),
    ],
)
def test_mlebench_rounds_a_score_to_5_decimals_before_ranking_it(score, mlebench, kaggle):
    scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0]  # 10 teams: gold at rank 1, silver at rank 2
    rounded = thresholds_from_scores(scores)
    raw = thresholds_from_scores(scores, decimals=None)
    assert rounded.decimals == 5 and raw.decimals is None and rounded.gold == raw.gold == 0.9
    assert grading_report(score, True, rounded).medal == mlebench
    assert grading_report(score, True, raw).medal == kaggle
    assert grading_report(score, True, rounded).score == round(score, 5)


def test_lower_is_better_scores_are_rounded_too():
    board = thresholds_from_scores([0.1 + 0.01 * rank for rank in range(20)])  # gold at rank 2: 0.11
    assert board.is_lower_better and board.gold == pytest.approx(0.11)
    assert grading_report(board.gold + 4e-6, True, board).medal == "gold"
    raw = thresholds_from_scores([0.1 + 0.01 * rank for rank in range(20)], decimals=None)
    assert grading_report(board.gold + 4e-6, True, raw).medal == "silver"


def test_read_leaderboard_rounds_for_mlebench_grading_only(tmp_path):
    path = tmp_path / "leaderboard.csv"
    path.write_text("teamName,score\na,0.9\nb,0.8\nc,0.7\n")
    assert read_leaderboard(path).decimals == 5
    assert read_leaderboard(path, "kaggle").decimals is None
