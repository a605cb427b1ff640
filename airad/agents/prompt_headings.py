"""The vocabulary of the prompts: the titles of their `# ` sections and the fixed labels in them.

The prompt builders (operators, analysis, distill, knowledge_prompt) write them; the offline coder
reads prompts by them, so the two never drift apart.
"""

from __future__ import annotations

TASK = "Task"
DATA = "Data"
RESEARCH_PROGRAM = "Research program"
KNOWLEDGE = "Knowledge from earlier runs"
PREVIOUS_ATTEMPTS = "Previous attempts"
JOB = "Your job"  # "# Your job: <operator>"
RESPONSE_FORMAT = "Response format"

SOLUTION_TO_IMPROVE = "Solution to improve"  # improve's parent: "# Solution to improve (node N)"
BUGGY_SOLUTION = "Buggy solution"  # debug's parent
PARENT_SOLUTION = "Parent solution"  # crossover's parents: "# Parent solution A (node N)", then B
ERROR = "Error"  # debug: the parent's error
SCORE_LABEL = "Validation score measured by the harness"  # a parent's score line: "<label>: <score>"

SOLUTION = "Solution"  # analyze: the script under review
EXECUTION_OUTPUT = "Execution output"  # analyze: what it printed

FINDINGS = "Findings"  # distill: the run's findings as JSON
CURRENT_KNOWLEDGE = "Current knowledge"  # distill: the domain's atoms so far


def section(title: str, body: str) -> str:
    """A level-one section: `# <title>`, a blank line, then `body`."""
    return f"# {title}\n\n{body}"
