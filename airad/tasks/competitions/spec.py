"""A competition's submission format and metric, and the grader that checks and scores a submission.

Two gradings: `mlebench` (the default) gives MLE-bench's numbers, by each grader's own checks and
scikit-learn's arithmetic (`mlebench_rules`); `kaggle` follows the competitions' published rules,
with stricter checks (`checks`, `scoring`). docs/tasks.md lists where the two differ.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from msgspec import Struct

from airad.tasks.competitions import checks
from airad.tasks.competitions.mlebench_rules import BY_POSITION, IDS_UNCHECKED, RULES
from airad.tasks.competitions.scoring import SCORERS, Scorer
from airad.tasks.grading.competition_harness import GRADINGS, Grading
from airad.tasks.grading.grades import SubmissionError


class Competition(Struct, frozen=True):
    """One competition: what a submission must look like, what the answers hold, how it is scored.

    `target_columns` are the prediction columns in the submission's order; empty means "every
    class column the answers one-hot (every numeric answers column but the id), or, when the
    answers hold `label_column` instead, every submission column but the id".
    `answers_file` is the file under MLE-bench's `private/`; `answers_layout` says what it holds.
    The answers must hold `id_column` and the target columns (or `label_column`); other answers
    columns are ignored. `labels` are the only values a prediction may take (empty: any number);
    `text` targets are strings compared exactly; `optional_columns` may appear in a submission
    and are ignored. `most_held_out` bounds the examples a validation view holds out where each one
    is big (a page of pixels), whatever the request asks; `left_out` are public files that carry
    training labels in a form a view cannot rewrite, so views leave them out.
    """

    id: str
    metric: str
    lower_is_better: bool
    id_column: str
    target_columns: tuple[str, ...]
    answers_file: str
    answers_layout: str
    label_column: str = ""
    labels: tuple[int, ...] = ()
    optional_columns: tuple[str, ...] = ()
    text: bool = False
    most_held_out: int | None = None
    left_out: tuple[str, ...] = ()

    @property
    def scorer(self) -> Scorer:
        """The metric's function and what it asks of predictions."""
        return SCORERS[self.metric]

    def grade(self, submission: pd.DataFrame, answers: pd.DataFrame, grading: Grading = "mlebench") -> float:
        """Check the submission like the competition's grader, then score it against the answers.

        `grading` is `mlebench` (MLE-bench's `grade()`: its checks, its pairing of rows, its
        arithmetic) or `kaggle` (the published rules, checked strictly). Raises `SubmissionError` for
        a submission that cannot be scored, `ValueError` for answers that lack a column this
        competition needs.
        """
        if grading not in GRADINGS:
            raise ValueError(f"unknown grading {grading!r}; known: {', '.join(GRADINGS)}")
        columns = self.prediction_columns(submission, answers)
        self._check_answers(answers, columns)
        if grading == "mlebench":
            if self._answers_hold_labels(answers):  # answers as labels, not MLE-bench's one-hot: one-hot them
                one_hot = pd.DataFrame(self._one_hot(answers[self.label_column], columns), columns=columns)
                answers = one_hot.astype(int).assign(**{self.id_column: answers[self.id_column].to_numpy()})
                answers = answers[[self.id_column, *columns]]
            return RULES[self.id](self, submission, answers)
        checks.check_columns(submission, [self.id_column, *columns], self.optional_columns)
        checks.check_row_count(submission, len(answers))
        order = checks.align(submission[self.id_column], answers[self.id_column])
        predicted = self._predictions(submission, columns)[order]
        return float(self.scorer.fn(self._truth(answers, columns), predicted))

    def pairs_by_position(self, grading: Grading = "mlebench") -> bool:
        """Whether the grader pairs the i-th submission row with the i-th answer row (ids unread), so
        that the answers must be in the sample submission's order."""
        return grading == "mlebench" and self.id in BY_POSITION

    def checks_ids(self, grading: Grading = "mlebench") -> bool:
        """Whether the grader compares the submission's ids with the answers' (MLE-bench's taxi and
        nomad graders never do)."""
        return grading == "kaggle" or self.id not in IDS_UNCHECKED

    def prediction_columns(self, submission: pd.DataFrame, answers: pd.DataFrame) -> list[str]:
        """The columns scored, resolving "class columns from the file" for this pair of frames."""
        if self.target_columns:
            return list(self.target_columns)
        if self._answers_hold_labels(answers):
            return [str(c) for c in submission.columns if c != self.id_column and c not in self.optional_columns]
        numeric = answers.select_dtypes(include=["number", "bool"]).columns
        return [str(c) for c in numeric if c != self.id_column]

    def _answers_hold_labels(self, answers: pd.DataFrame) -> bool:
        return bool(self.label_column) and self.label_column in answers.columns

    def _check_answers(self, answers: pd.DataFrame, columns: list[str]) -> None:
        labelled = self._answers_hold_labels(answers)
        if not columns and labelled:
            raise SubmissionError(f"submission has no class probability columns besides {self.id_column!r}")
        needed = [self.id_column, *([self.label_column] if labelled else columns)]
        missing = [c for c in needed if c not in answers.columns]
        if missing or not columns:
            lacking = checks.few(missing or ["<classes>"])
            raise ValueError(f"answers for {self.id} lack columns {lacking}; expected {self.answers_layout}")

    def _predictions(self, submission: pd.DataFrame, columns: list[str]) -> np.ndarray:
        if self.text:
            return checks.texts(submission, columns)
        ids = submission[self.id_column]
        values = checks.numbers(submission, columns, ids)
        if self.labels:
            checks.check_labels(values, self.labels, columns, ids)
        if self.scorer.probabilities:
            checks.check_probabilities(values, columns, ids)
        if self.scorer.rows_sum_to_one:
            checks.check_row_sums(values, ids)
        if self.scorer.above is not None:
            checks.check_above(values, self.scorer.above, columns, ids)
        return values

    def _truth(self, answers: pd.DataFrame, columns: list[str]) -> np.ndarray:
        if self.text:
            return checks.texts(answers, columns)
        if self._answers_hold_labels(answers):
            return self._one_hot(answers[self.label_column], columns)
        return answers[columns].astype(float).to_numpy()

    def _one_hot(self, labels: pd.Series, classes: list[str]) -> np.ndarray:
        index = pd.Index(classes).get_indexer(labels.astype(str))
        if (index < 0).any():
            unknown = checks.few(sorted(set(labels[index < 0].astype(str))))
            if self.target_columns:
                raise ValueError(f"answers for {self.id} hold classes {unknown} outside {checks.few(classes)}")
            raise SubmissionError(f"submission has no column for classes {unknown}, which the test rows hold")
        truth = np.zeros((len(labels), len(classes)))
        truth[np.arange(len(labels)), index] = 1.0
        return truth
