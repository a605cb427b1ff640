"""Which MLE-bench lite competitions a machine can run: `airad tasks --mlebench ROOT`.

MLE-bench prepares a competition under `<data root>/<competition>/prepared/` (`public/`, `private/`)
and keeps its leaderboard in its own repository, at `mlebench/competitions/<competition>/leaderboard.csv`.
For each of the 22 competitions this says whether it is prepared, whether a harness-owned validation
split can be cut from it (and why not), and whether medals can be given; the ready ones can be
printed as `[[tasks]]` tables for an experiment file.
"""

from __future__ import annotations

import json
from pathlib import Path

from airad.schemas.request import MleBenchTask
from airad.tasks.competitions import COMPETITIONS


def competition_dir(root: Path, competition: str) -> Path | None:
    """`root/<competition>/prepared` (MLE-bench's layout) or `root/<competition>`, whichever holds `public/`."""
    for candidate in (root / competition / "prepared", root / competition):
        if (candidate / "public").is_dir():
            return candidate
    return None


def check_competitions(root: Path, leaderboards: Path | None = None) -> list[dict]:
    """One row per competition: its metric, where it is prepared, `ready` or why not, and medals."""
    from airad.tasks.mlebench import find_leaderboard, mlebench_task_problem

    rows = []
    for competition_id, competition in sorted(COMPETITIONS.items()):
        row = {
            "competition": competition_id,
            "metric": competition.metric,
            "data_dir": None,
            "leaderboard": None,
            "status": "not prepared",
            "medals": False,
        }
        data_dir = competition_dir(root.expanduser(), competition_id)
        if data_dir is not None:
            board = leaderboards.expanduser() / competition_id / "leaderboard.csv" if leaderboards else None
            spec = MleBenchTask(
                competition=competition_id,
                data_dir=str(data_dir),
                leaderboard=str(board) if board is not None and board.is_file() else None,
            )
            problem = mlebench_task_problem(spec)
            found = find_leaderboard(spec, data_dir) if problem is None else None
            row.update(
                data_dir=str(data_dir),
                leaderboard=str(found) if found else None,
                medals=found is not None,
                status="ready" if problem is None else problem[1],
            )
        rows.append(row)
    return rows


def tasks_toml(rows: list[dict]) -> str:
    """The ready competitions as `[[tasks]]` tables of an experiment request."""
    blocks = []
    for row in rows:
        if row["status"] != "ready":
            continue
        lines = [
            "[[tasks]]",
            'kind = "mlebench"',
            f"competition = {json.dumps(row['competition'])}",
            f"data_dir = {json.dumps(row['data_dir'])}",
        ]
        if row["leaderboard"]:
            lines.append(f"leaderboard = {json.dumps(row['leaderboard'])}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + ("\n" if blocks else "")
