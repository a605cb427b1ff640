"""The offline coder's answer to the distill prompt: one atom per finding, worded from its numbers.

Deterministic: the answer depends only on the findings in the prompt, so a distillation replays.
"""

from __future__ import annotations

import json
import re

from airad.agents import prompt_headings as headings
from airad.agents.distill import JOB

DISTILL_JOB = JOB
_FINDINGS = re.compile(rf"^# {re.escape(headings.FINDINGS)}\s*$.*?```(?:json)?\s*\n(.*?)```", re.DOTALL | re.MULTILINE)


def findings_in(text: str) -> list[dict]:
    """The findings of a distill prompt (its `# Findings` JSON block); empty when it has none."""
    match = _FINDINGS.search(text)
    return findings_from_json(match.group(1)) if match else []


def findings_from_json(text: str) -> list[dict]:
    """The findings of a JSON array; empty when it is not one."""
    try:
        data = json.loads(text)
    except ValueError:
        return []
    return [f for f in data if isinstance(f, dict)] if isinstance(data, list) else []


def distill(text: str) -> str:
    """A JSON object `{"atoms": [...]}` with one atom per finding of the prompt."""
    return distill_findings(findings_in(text))


def distill_findings(findings: list[dict]) -> str:
    """A JSON object `{"atoms": [...]}` with one atom per finding."""
    atoms = []
    for finding in findings:
        try:
            atoms.append(_atom(finding))
        except (KeyError, TypeError, ValueError, ZeroDivisionError):
            continue
    return json.dumps({"atoms": atoms}, ensure_ascii=False)


def _atom(finding: dict) -> dict:
    deltas = [float(d) for d in finding["score_deltas"]]
    mean = sum(deltas) / len(deltas)
    agree = sum(1 for d in deltas if d * mean > 0) / len(deltas)
    n = len(deltas)
    subject, effect, reference = finding["subject"], finding["effect"], finding["reference"]
    if str(finding["key"]).startswith("family."):
        verb = "Prefer" if effect == "helped" else "Avoid"
        scores = [float(s) for s in finding["scores"]]
        claim = (
            f"{verb} {subject}: {n} draft{'s' * (n > 1)} scored {sum(scores) / n:.4g} on average, "
            f"{mean:+.3g} against {reference}."
        )
    else:
        verb = "improved" if effect == "helped" else "worsened"
        claim = (
            f"{subject[:1].upper()}{subject[1:]} {verb} the validation score by {mean:+.3g} "
            f"against {reference} ({n} step{'s' * (n > 1)})."
        )
    return {
        "key": finding["key"],
        "kind": finding["kind"],
        "effect": effect,
        "claim": claim,
        "confidence": round(min(0.9, 0.35 + 0.15 * n) * agree, 2),
        "node_ids": list(finding["node_ids"]),
    }
