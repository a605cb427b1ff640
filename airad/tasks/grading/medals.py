"""Kaggle medal thresholds from a competition's leaderboard, and MLE-bench-style grading reports.

The rules (kaggle.com/progression, as MLE-bench applies them): with N teams, the threshold of a
medal is the score of the team at a rank; fractional ranks are truncated and never below 1.

| teams      | gold              | silver   | bronze   |
| ---        | ---               | ---      | ---      |
| < 100      | top 10%           | top 20%  | top 40%  |
| 100 - 249  | rank 10           | top 20%  | top 40%  |
| 250 - 999  | rank 10 + 0.2% N  | rank 50  | rank 100 |
| >= 1000    | rank 10 + 0.2% N  | top 5%   | top 10%  |

A score at a threshold (a tie) earns the medal; "above median" is strict. MLE-bench rounds a score to
5 decimals before it ranks it (`decimals`, the default): a score within 5e-6 of a threshold may
reach it. Thresholds read for `kaggle` grading rank the score as it is (`decimals=None`).
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
from msgspec import Struct

from airad.schemas.events import Medal
from airad.tasks.grading.competition_harness import Grading

MLEBENCH_DECIMALS = 5  # MLE-bench's grader returns round(score, 5), and ranks that


class MedalThresholds(Struct, frozen=True):
    """The scores a submission must reach for each medal, and the leaderboard's median."""

    gold: float
    silver: float
    bronze: float
    median: float
    is_lower_better: bool
    num_teams: int
    decimals: int | None = MLEBENCH_DECIMALS

    def as_dict(self) -> dict[str, float]:
        """The four thresholds by name, as recorded on `node.tested`."""
        return {"gold": self.gold, "silver": self.silver, "bronze": self.bronze, "median": self.median}


class GradingReport(Struct, frozen=True):
    """One submission graded against a leaderboard, with MLE-bench's report fields."""

    score: float | None
    gold_threshold: float
    silver_threshold: float
    bronze_threshold: float
    median_threshold: float
    any_medal: bool
    gold_medal: bool
    silver_medal: bool
    bronze_medal: bool
    above_median: bool
    valid_submission: bool
    is_lower_better: bool

    @property
    def medal(self) -> Medal | None:
        """The medal won, if any."""
        won: tuple[tuple[Medal, bool], ...] = (
            ("gold", self.gold_medal),
            ("silver", self.silver_medal),
            ("bronze", self.bronze_medal),
        )
        return next((name for name, medal in won if medal), None)


def _top(num_teams: int, share: str) -> int:
    return max(1, int(num_teams * Fraction(share)))


def medal_ranks(num_teams: int) -> tuple[int, int, int]:
    """The 1-based ranks whose scores are the gold, silver and bronze thresholds."""
    if num_teams < 1:
        raise ValueError("a leaderboard needs at least one team")
    if num_teams < 100:
        return _top(num_teams, "0.1"), _top(num_teams, "0.2"), _top(num_teams, "0.4")
    if num_teams < 250:
        return 10, _top(num_teams, "0.2"), _top(num_teams, "0.4")
    gold = 10 + int(num_teams * Fraction("0.002"))
    if num_teams < 1000:
        return gold, 50, 100
    return gold, _top(num_teams, "0.05"), _top(num_teams, "0.1")


def thresholds_from_scores(scores: Sequence[float], decimals: int | None = MLEBENCH_DECIMALS) -> MedalThresholds:
    """Thresholds from a leaderboard's scores in rank order (best team first).

    Lower is better when the first team's score is below the last team's. `decimals`: what a score
    is rounded to before it is ranked (None: not rounded).
    """
    series = pd.Series(list(scores), dtype=float)
    gold, silver, bronze = medal_ranks(len(series))
    return MedalThresholds(
        gold=float(series.iloc[gold - 1]),
        silver=float(series.iloc[silver - 1]),
        bronze=float(series.iloc[bronze - 1]),
        median=float(series.median()),
        is_lower_better=bool(series.iloc[0] < series.iloc[-1]),
        num_teams=len(series),
        decimals=decimals,
    )


def read_leaderboard(path: Path, grading: Grading = "mlebench") -> MedalThresholds:
    """Thresholds from a Kaggle `leaderboard.csv` (rows in rank order, a `score` column); `mlebench`
    grading ranks scores rounded to 5 decimals, `kaggle` grading ranks them as they are."""
    frame = pd.read_csv(path)
    if "score" not in frame.columns:
        raise ValueError(f"{path}: a leaderboard needs a 'score' column")
    return thresholds_from_scores(frame["score"].tolist(), MLEBENCH_DECIMALS if grading == "mlebench" else None)


def _reaches(score: float, threshold: float, lower_is_better: bool) -> bool:
    return score <= threshold if lower_is_better else score >= threshold


def grading_report(score: float | None, valid: bool, thresholds: MedalThresholds) -> GradingReport:
    """Grade a test score against the thresholds (rounded first to their `decimals`, as the report's
    score is); an invalid or missing score wins nothing."""
    lower = thresholds.is_lower_better
    graded = gold = silver = bronze = above_median = False
    if score is not None and thresholds.decimals is not None and np.isfinite(score):
        score = round(float(score), thresholds.decimals)
    if valid and score is not None:
        graded = True
        gold = _reaches(score, thresholds.gold, lower)
        silver = not gold and _reaches(score, thresholds.silver, lower)
        bronze = not gold and not silver and _reaches(score, thresholds.bronze, lower)
        above_median = score < thresholds.median if lower else score > thresholds.median
    return GradingReport(
        score=score,
        gold_threshold=thresholds.gold,
        silver_threshold=thresholds.silver,
        bronze_threshold=thresholds.bronze,
        median_threshold=thresholds.median,
        any_medal=gold or silver or bronze,
        gold_medal=gold,
        silver_medal=silver,
        bronze_medal=bronze,
        above_median=above_median,
        valid_submission=graded,
        is_lower_better=lower,
    )
