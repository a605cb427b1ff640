"""Knowledge atoms and the events of a domain's knowledge stream `airad.knowledge.<domain>`.

An atom is one claim about what helped or hurt on a domain's problem (a model family, a feature,
a hyper-parameter, a preprocessing step), with the evidence the harness measured for it. Its
`atom_id` is the claim's key: a newer atom with the same key is its next version and supersedes
the older one. Same evolution rules as run events: new fields get defaults, types and tags never change.
"""

from __future__ import annotations

from typing import Literal

import msgspec
from msgspec import Struct

AtomKind = Literal["model_family", "features", "hyper_parameters", "preprocessing", "other"]
Effect = Literal["helped", "hurt"]
AtomSource = Literal["model", "evidence"]
ATOM_KINDS: tuple[str, ...] = ("model_family", "features", "hyper_parameters", "preprocessing", "other")


class Evidence(Struct, frozen=True):
    """What one run measured for a claim: its node ids and, per node, the harness's validation score
    delta against the node's reference (an improve step's parent, or the mean of the run's drafts)."""

    run_id: str
    node_ids: tuple[int, ...]
    score_deltas: tuple[float, ...]
    metric: str = ""
    lower_is_better: bool = False


class Atom(Struct, frozen=True):
    """One versioned claim of a domain's knowledge; `source` says whether a model worded it or it
    was derived from the evidence alone."""

    atom_id: str
    version: int
    kind: AtomKind
    effect: Effect
    claim: str
    confidence: float
    evidence: tuple[Evidence, ...] = ()
    supersedes: int | None = None
    source: AtomSource = "evidence"


class AtomRef(Struct, frozen=True):
    """Which version of which atom something saw."""

    atom_id: str
    version: int


class KnowledgeEventBase(Struct, frozen=True, kw_only=True, tag_field="type"):
    """Fields every knowledge event has: its domain, its gapless per-domain sequence number and a timestamp."""

    domain: str
    seq: int
    at: float


class KnowledgeDistilled(KnowledgeEventBase, frozen=True, tag="knowledge.distilled"):
    """A run's findings, distilled into atoms (at most one such event per run).

    `problem` says why the model's answer was not used; the atoms are then the evidence-only ones.
    The distill prompt and the model's answer are blobs, like a node's.
    """

    run_id: str
    atoms: tuple[Atom, ...] = ()
    model: str = ""
    prompt_ref: str = ""
    completion_ref: str = ""
    problem: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


KnowledgeEvent = KnowledgeDistilled  # the one kind so far

_decoder = msgspec.json.Decoder(KnowledgeEvent)
_atoms_decoder = msgspec.json.Decoder(tuple[Atom, ...])
_encoder = msgspec.json.Encoder()


def encode_knowledge_event(event: KnowledgeEvent) -> bytes:
    """Wire form of a knowledge event: JSON with a `type` tag."""
    return _encoder.encode(event)


def decode_knowledge_event(data: bytes) -> KnowledgeEvent:
    """Parse one knowledge event from its wire form."""
    return _decoder.decode(data)


def encode_atoms(atoms: tuple[Atom, ...]) -> bytes:
    """Atoms as the JSON blob a `run.knowledge` event references."""
    return _encoder.encode(atoms)


def decode_atoms(data: bytes) -> tuple[Atom, ...]:
    """Atoms from the blob a `run.knowledge` event references."""
    return _atoms_decoder.decode(data)


def atom_ref(atom: Atom) -> AtomRef:
    """The (id, version) of an atom."""
    return AtomRef(atom.atom_id, atom.version)
