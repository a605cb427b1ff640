"""Distillation: a run's findings become knowledge atoms, worded by a model or from the evidence alone.

The distill template (`daemon/prompts.distill_prompt`) asks the model for atoms as JSON;
`parse_distilled` keeps only atoms whose evidence is the harness's (node ids of the findings, their
measured deltas, the same direction of effect) and raises DistillError when nothing usable is left;
`evidence_atoms` is the fallback.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence

import msgspec

from airad.agents.findings import Finding, gain
from airad.schemas.knowledge_events import ATOM_KINDS, Atom, AtomKind, Evidence

JOB = "distill"
CLAIM_CHARS = 500
MAX_ATOMS = 24
MAX_CONFIDENCE = 0.95
SYSTEM = "You distil the results of machine-learning experiments into short claims a later experiment can act on."
RESPONSE_FORMAT = """\
Answer with one JSON object and nothing else, for example:
{"atoms": [{"key": "family.lightgbm", "kind": "model_family", "effect": "helped", \
"claim": "LightGBM beat the other model families.", "confidence": 0.7, "node_ids": [1, 4]}]}
`kind` is one of model_family, features, hyper_parameters, preprocessing, other; `effect` is helped or hurt;
`confidence` is between 0 and 1; `node_ids` are the findings' nodes the claim rests on."""

_THINK = re.compile(r"<think>.*?(</think>|$)", re.DOTALL | re.IGNORECASE)
_KEY = re.compile(r"^[a-z0-9][a-z0-9._-]{0,79}$")


class DistillError(ValueError):
    """The model's answer holds no usable atom; the message says why."""


def findings_json(findings: Sequence[Finding]) -> str:
    """The findings as a JSON array, one finding per line."""
    return "[\n" + ",\n".join(msgspec.json.encode(f).decode() for f in findings) + "\n]"


def evidence_atoms(findings: Sequence[Finding], run_id: str, metric: str, lower_is_better: bool) -> tuple[Atom, ...]:
    """One atom per finding, worded from its numbers; confidence grows with the number of nodes and
    shrinks when their deltas disagree."""
    atoms = []
    for finding in findings:
        gains = [gain(d, lower_is_better) for d in finding.score_deltas]
        agree = sum(1 for g in gains if (g > 0) == (finding.effect == "helped") and g != 0) / len(gains)
        confidence = round(min(0.9, 0.3 + 0.15 * len(gains)) * agree, 2)
        atoms.append(
            Atom(
                atom_id=finding.key,
                version=1,
                kind=finding.kind,
                effect=finding.effect,
                claim=_evidence_claim(finding, metric, lower_is_better),
                confidence=confidence,
                evidence=(_evidence(finding.node_ids, finding.score_deltas, run_id, metric, lower_is_better),),
            )
        )
    return tuple(atoms)


def _evidence_claim(finding: Finding, metric: str, lower_is_better: bool) -> str:
    n = len(finding.node_ids)
    direction = ", lower is better" if lower_is_better else ""
    mean_score = sum(finding.scores) / n
    if finding.kind == "model_family" and finding.key.startswith("family."):
        return (
            f"{finding.subject} drafts {finding.effect}: {n} draft{'s' * (n > 1)} averaged validation {metric} "
            f"{mean_score:.4g}, {finding.mean_delta:+.3g} against {finding.reference}{direction}."
        )
    return (
        f"The change '{finding.subject}' {finding.effect}: validation {metric} moved {finding.mean_delta:+.3g} "
        f"against {finding.reference} over {n} improve step{'s' * (n > 1)}{direction}."
    )


def _evidence(node_ids, deltas, run_id: str, metric: str, lower_is_better: bool) -> Evidence:
    return Evidence(
        run_id=run_id,
        node_ids=tuple(node_ids),
        score_deltas=tuple(deltas),
        metric=metric,
        lower_is_better=lower_is_better,
    )


def parse_distilled(
    text: str, findings: Sequence[Finding], run_id: str, metric: str, lower_is_better: bool
) -> tuple[Atom, ...]:
    """The model's atoms (at most MAX_ATOMS), each with the harness's evidence for the node ids it
    cites; atoms citing no node of the findings, or claiming the opposite of what their nodes
    measured, are dropped."""
    data = _json_object(_THINK.sub("", text or ""))
    if data is None:
        raise DistillError("the answer holds no JSON object")
    items = data.get("atoms")
    if not isinstance(items, list):
        raise DistillError("the answer's JSON has no list `atoms`")
    deltas: dict[int, float] = {}
    for finding in findings:
        for node_id, delta in zip(finding.node_ids, finding.score_deltas, strict=False):
            deltas.setdefault(node_id, delta)
    atoms: dict[str, Atom] = {}
    for item in items:
        atom = _atom(item, deltas, run_id, metric, lower_is_better)
        if atom is not None and atom.atom_id not in atoms and len(atoms) < MAX_ATOMS:
            atoms[atom.atom_id] = atom
    if not atoms and findings:
        raise DistillError(
            f"none of the answer's {len(items)} atoms is usable (each needs a key, an effect its nodes bear out, "
            "a claim, a confidence and node ids of the findings)"
        )
    return tuple(atoms.values())


def _atom(item: object, deltas: dict[int, float], run_id: str, metric: str, lower_is_better: bool) -> Atom | None:
    if not isinstance(item, dict):
        return None
    key = str(item.get("key", "")).strip().lower()
    effect = item.get("effect")
    claim = " ".join(str(item.get("claim", "")).split())[:CLAIM_CHARS]
    confidence = item.get("confidence")
    node_ids = item.get("node_ids")
    if not _KEY.match(key) or effect not in ("helped", "hurt") or not claim:
        return None
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not math.isfinite(confidence):
        return None
    if not isinstance(node_ids, list):
        return None
    cited = sorted({n for n in node_ids if isinstance(n, int) and not isinstance(n, bool) and n in deltas})
    if not cited:
        return None
    measured = sum(gain(deltas[n], lower_is_better) for n in cited)
    if (measured > 0) != (effect == "helped") or measured == 0:
        return None
    kind: AtomKind = item["kind"] if item.get("kind") in ATOM_KINDS else "other"
    return Atom(
        atom_id=key,
        version=1,
        kind=kind,
        effect=effect,
        claim=claim,
        confidence=round(min(MAX_CONFIDENCE, max(0.0, float(confidence))), 3),
        evidence=(_evidence(cited, [deltas[n] for n in cited], run_id, metric, lower_is_better),),
        source="model",
    )


def _json_object(text: str) -> dict | None:
    """The first JSON object in the text: the whole text, a fenced block, or the outermost braces."""
    candidates = [text.strip(), *re.findall(r"```(?:json)?\s*(\{.*?\})\s*```", text, re.DOTALL)]
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            data = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(data, dict):
            return data
    return None
