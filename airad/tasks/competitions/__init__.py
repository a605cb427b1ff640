"""Grading for the MLE-bench lite competitions: each one's submission checks and exact metric."""

from airad.tasks.competitions.catalogue import COMPETITIONS, competition
from airad.tasks.competitions.spec import Competition

__all__ = ["COMPETITIONS", "Competition", "competition"]
