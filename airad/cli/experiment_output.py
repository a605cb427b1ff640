"""How `airad experiment` prints progress and the aggregate report: tables for people, CSV and JSON."""

from __future__ import annotations

import csv
import io
import time

from airad.cli.output import age, fmt_score, fmt_stat, table
from airad.events.experiment import ExperimentState
from airad.reports.experiment_report import CellReport, ExperimentReport
from airad.schemas.experiment_events import ExperimentRunFinished


def status_line(state: ExperimentState) -> str:
    """'experiment X: running: 3/8 runs ended, 2 running, 3 not started'."""
    detail = f": {state.rejection}" if state.status == "rejected" else ""
    counts = (
        f"{state.count('finished')}/{len(state.runs)} runs ended, {state.count('started')} running, "
        f"{state.count('planned')} not started"
    )
    progress = "" if state.status == "rejected" else f": {counts}"
    return f"experiment {state.experiment_id}: {state.status}{detail}{progress}"


def experiments_table(states: list[ExperimentState], now: float | None = None) -> str:
    """The `airad experiment ls` table, one line per experiment."""
    now = time.time() if now is None else now
    rows = [("EXPERIMENT", "STATUS", "TASKS", "SOLVERS", "SEEDS", "ENDED", "RUNNING", "NOT STARTED", "AGE")]
    for state in states:
        request = state.request
        rows.append(
            (
                state.experiment_id,
                state.status,
                str(len(request.tasks)) if request else "-",
                str(len(request.solvers)) if request else "-",
                str(len(request.seeds)) if request else "-",
                f"{state.count('finished')}/{len(state.runs)}",
                str(state.count("started")),
                str(state.count("planned")),
                age(now - state.submitted_at) if state.submitted_at else "-",
            )
        )
    return table(rows)


def run_finished_line(state: ExperimentState, event: ExperimentRunFinished) -> str:
    """One progress line for a run that ended."""
    run, result = state.run(event.run_id), event.result
    outcome = result.reason or result.status
    score = f"test {result.metric} {fmt_score(result.test)}" if result.metric else "no scored node"
    return (
        f"  [{state.count('finished')}/{len(state.runs)}] {run.task} × {run.solver} seed {run.seed}: "
        f"{outcome}, {result.nodes} nodes, {score}"
    )


def progress_table(state: ExperimentState) -> str:
    """Runs ended (of all), running and not started, per task × solver."""
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for run in state.runs:
        cell = counts.setdefault((run.task, run.solver), {"finished": 0, "started": 0, "planned": 0})
        cell[run.progress] += 1
    rows = [("TASK", "SOLVER", "ENDED", "RUNNING", "NOT STARTED")]
    for (task, solver), cell in counts.items():
        ended = f"{cell['finished']}/{sum(cell.values())}"
        rows.append((task, solver, ended, str(cell["started"]), str(cell["planned"])))
    return table(rows)


def report_text(report: ExperimentReport) -> str:
    """The aggregate tables: per task × solver over seeds (mean ± SEM (n)), the runs left out of them,
    then the rankings of solvers by Bradley–Terry and by SCO."""
    cells = [
        (
            "TASK",
            "SOLVER",
            "RUNS",
            "METRIC",
            "TEST (CHOSEN BY VALIDATION)",
            "BASELINE TEST (GB)",
            "ANY MEDAL %",
            "NODES",
            "COST USD",
            "WALL S",
        )
    ]
    for c in report.cells:
        cells.append(
            (
                c.task,
                c.solver,
                _runs_cell(c),
                (c.metric + (" (lower is better)" if c.lower_is_better else "")) or "-",
                fmt_stat(c.test),
                fmt_stat(c.baseline_test) if c.baseline_test and c.baseline_test.n else "-",
                fmt_stat(c.any_medal_pct) if c.any_medal_pct else "-",
                fmt_stat(c.nodes),
                fmt_stat(c.cost_usd),
                fmt_stat(c.wall_s),
            )
        )
    header = (
        f"experiment {report.experiment_id}: {report.status}: {report.runs_ended}/{report.runs_planned} runs ended"
        " (mean ± SEM (n) over seeds; runs = runs that ended on their own, one per seed / planned)"
    )
    return "\n".join([header, table(cells), *_left_out_lines(report), "", *_ranking_lines(report)])


def _runs_cell(cell: CellReport) -> str:
    repeated = ",".join(map(str, cell.repeated_seeds))
    return f"{cell.runs}/{cell.planned}" + (f" (seed {repeated} repeated)" if repeated else "")


def _left_out_lines(report: ExperimentReport) -> list[str]:
    left_out = [(run_id, why) for c in report.cells for run_id, why in c.left_out.items()]
    if not left_out:
        return []
    return ["", "left out of the aggregates and rankings:", *(f"  {run_id}: {why}" for run_id, why in left_out)]


def _ranking_lines(report: ExperimentReport) -> list[str]:
    ranking = report.ranking
    ranks = [("RANK", "SOLVER", "STRENGTH", "WINS", "COMPARISONS")]
    for entry in ranking.solvers:
        ranks.append(
            (
                "-" if entry.rank is None else str(entry.rank),
                entry.solver,
                fmt_score(entry.strength),
                f"{entry.wins:g}",
                str(entry.comparisons),
            )
        )
    lines = [f"ranking of solvers by {ranking.method}, over {ranking.contests} task × seed contests:", table(ranks)]
    sco = report.sco_ranking
    if sco is not None:
        rated = [("RANK", "SOLVER", "RATING", "ABOVE", "PAIRS")]
        for rating in sco.solvers:
            rated.append(
                (
                    "-" if rating.rank is None else str(rating.rank),
                    rating.solver,
                    fmt_score(rating.rating),
                    str(rating.above),
                    str(rating.pairs),
                )
            )
        lines += ["", f"ranking of solvers by {sco.method}, over {sco.votes} task × seed votes:", table(rated)]
    return lines


CSV_COLUMNS = (
    "experiment_id",
    "task",
    "solver",
    "planned",
    "ended",
    "runs",
    "metric",
    "lower_is_better",
    "test_mean",
    "test_sem",
    "test_n",
    "any_medal_pct_mean",
    "any_medal_pct_sem",
    "nodes_mean",
    "nodes_sem",
    "cost_usd_mean",
    "cost_usd_sem",
    "wall_s_mean",
    "wall_s_sem",
    "rank",
    "strength",
    "ranking_method",
    "sco_rank",
    "sco_rating",
    "sco_method",
    "repeated_seeds",
)


def report_csv(report: ExperimentReport) -> str:
    """One CSV row per task × solver (`CSV_COLUMNS`), with the solver's rank by Bradley–Terry and by SCO;
    empty cells for missing values."""
    ranks = {entry.solver: entry for entry in report.ranking.solvers}
    sco = report.sco_ranking
    ratings = {rating.solver: rating for rating in sco.solvers} if sco else {}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for c in report.cells:
        medal = c.any_medal_pct
        rank, rating = ranks.get(c.solver), ratings.get(c.solver)
        values = (
            report.experiment_id,
            c.task,
            c.solver,
            c.planned,
            c.ended,
            c.runs,
            c.metric,
            c.lower_is_better,
            c.test.mean,
            c.test.sem,
            c.test.n,
            medal.mean if medal else None,
            medal.sem if medal else None,
            c.nodes.mean,
            c.nodes.sem,
            c.cost_usd.mean,
            c.cost_usd.sem,
            c.wall_s.mean,
            c.wall_s.sem,
            rank.rank if rank else None,
            rank.strength if rank else None,
            report.ranking.method,
            rating.rank if rating else None,
            rating.rating if rating else None,
            sco.method if sco else None,
            ";".join(map(str, c.repeated_seeds)),
        )
        writer.writerow(["" if v is None else v for v in values])
    return buffer.getvalue()
