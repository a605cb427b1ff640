"""Grading: from a finished node's outputs to its grades, its validity, the reason the debug operator
is shown, and its medals. One module each:

- `grades`: `Score` and `Grades` (a harness's verdicts on the validation and test splits) and
  `SubmissionError`.
- `csv_harness`: the harness of table tasks (bundled, user CSV, contract), with a metric of
  `airad.tasks.metrics`.
- `competition_harness`: the harness of MLE-bench competitions, each split graded by the
  competition's own grader (`airad.tasks.competitions`).
- `metric_file`: the score a script task's script writes to its metric file.
- `medals`: Kaggle medal thresholds from a leaderboard, and a test score's grading report.
- `node`: `grade_node`, a finished node's `Verdict`: its task's grades, judged by how its script
  ended, and the test score's medal.
- `worker`: `grade_node` in a worker process, with the task opened there once.

The daemon (`airad.daemon.grading`, `airad.daemon.steps.score`) only chooses where `grade_node` runs
and records its verdict.
"""
