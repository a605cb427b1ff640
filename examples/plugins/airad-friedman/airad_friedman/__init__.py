"""airad-friedman: an example airad task plugin (docs/extending.md).

One entry point: `TASK` (group `airad.tasks`, kind `friedman`).
"""

from __future__ import annotations

from airad_friedman.task import TASK, Friedman, friedman_problem, open_friedman

__all__ = ["TASK", "Friedman", "friedman_problem", "open_friedman"]
