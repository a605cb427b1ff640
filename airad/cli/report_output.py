"""What `airad report` prints: the table of runs grouped by task and policy over seeds, and its CSV."""

from __future__ import annotations

import csv
import io

from airad.cli.output import fmt_score, fmt_stat, table
from airad.reports.report import Pick, Report, RunReport


def report_text(report: Report) -> str:
    """The `airad report` tables: one row per task and policy over seeds (mean ± SEM (n) of the counted
    runs, one per seed), then one row per run with its status and whether it counts."""
    if not report.runs:
        return "no runs to report"
    return _groups_table(report) + "\n\n" + _runs_table(report)


def _groups_table(report: Report) -> str:
    groups = [
        (
            "TASK",
            "POLICY",
            "LABELS",
            "RUNS COUNTED",
            "SEEDS",
            "METRIC",
            "CHOSEN TEST",
            "ORACLE TEST",
            "GAP",
            "OVERFIT",
            "ANY MEDAL % (VALIDATION)",
            "ANY MEDAL % (ORACLE)",
        )
    ]
    for g in report.groups:
        medals = g.any_medal_pct
        groups.append(
            (
                g.task,
                g.policy,
                ",".join(f"{k}={v}" for k, v in g.labels.items()) or "-",
                f"{g.counted} of {g.runs}",
                _seeds(g.seeds, g.repeated_seeds),
                g.metric + (" (lower is better)" if g.lower_is_better else ""),
                fmt_stat(g.chosen_test),
                fmt_stat(g.oracle_test),
                fmt_stat(g.gap),
                fmt_stat(g.overfitting),
                fmt_stat(medals["validation"]) if medals else "-",
                fmt_stat(medals["oracle"]) if medals else "-",
            )
        )
    return table(groups)


def _seeds(seeds: list[int], repeated: list[int]) -> str:
    listed = ",".join(map(str, seeds)) or "-"
    return listed + (f" ({','.join(map(str, repeated))} repeated: latest run counts)" if repeated else "")


def _runs_table(report: Report) -> str:
    runs = [
        (
            "RUN",
            "TASK",
            "POLICY",
            "SEED",
            "STATUS",
            "COUNTED",
            "NODES",
            "CHOSEN",
            "VALID",
            "TEST",
            "MEDAL",
            "ORACLE",
            "VALID",
            "TEST",
            "MEDAL",
            "GAP",
            "OVERFIT",
            "BASELINE TEST",
        )
    ]
    for r in report.runs:
        runs.append(
            (
                r.run_id,
                r.task,
                r.policy,
                str(r.seed),
                r.status + (f" ({r.reason})" if r.reason else ""),
                "yes" if r.counted else f"no: {r.left_out}",
                str(r.nodes),
                *_pick_cells(r.chosen, r.has_medals),
                *_pick_cells(r.oracle, r.has_medals),
                fmt_score(r.gap),
                fmt_score(r.overfitting),
                _baseline_cell(r),
            )
        )
    return table(runs)


def _baseline_cell(run: RunReport) -> str:
    """The held-out test score of the run's strongest reference baseline (the harness's gradient
    boosting, else its constant), with its name: `0.99457 (gradient boosting)`; "-" without one."""
    scored = [b for b in run.baselines if b.test is not None]
    if not scored:
        return "-"
    best = scored[-1]
    return f"{fmt_score(best.test)} ({best.name})"


def _pick_cells(pick: Pick | None, has_medals: bool) -> tuple[str, str, str, str]:
    if pick is None:
        return ("-", "-", "-", "-")
    medal = pick.medal or ("none" if has_medals else "-")
    return (str(pick.node_id), fmt_score(pick.validation), fmt_score(pick.test), medal)


REPORT_CSV_COLUMNS = (
    "run_id",
    "task",
    "policy",
    "seed",
    "status",
    "metric",
    "lower_is_better",
    "nodes",
    "chosen_node",
    "chosen_validation",
    "chosen_test",
    "chosen_medal",
    "oracle_node",
    "oracle_validation",
    "oracle_test",
    "oracle_medal",
    "gap",
    "overfitting",
    "labels",
    "reason",
    "counted",
    "left_out",
)


def report_csv(report: Report) -> str:
    """One CSV row per run of a report (columns `REPORT_CSV_COLUMNS`, whether it counts in its group's
    aggregates and why not among them); empty cells for missing values."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(REPORT_CSV_COLUMNS)
    for r in report.runs:
        writer.writerow(
            _blank_none(
                (
                    r.run_id,
                    r.task,
                    r.policy,
                    r.seed,
                    r.status,
                    r.metric,
                    r.lower_is_better,
                    r.nodes,
                    *_pick_row(r.chosen),
                    *_pick_row(r.oracle),
                    r.gap,
                    r.overfitting,
                    ";".join(f"{k}={v}" for k, v in sorted(r.labels.items())),
                    r.reason,
                    r.counted,
                    r.left_out,
                )
            )
        )
    return buffer.getvalue()


def _pick_row(pick: Pick | None) -> tuple:
    if pick is None:
        return (None, None, None, None)
    return (pick.node_id, pick.validation, pick.test, pick.medal)


def _blank_none(values: tuple) -> list:
    return ["" if v is None else v for v in values]
