"""A domain's knowledge is the fold of its knowledge events: every atom version, the current ones,
and the runs already distilled. `supersede` gives a run's new atoms their versions against it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from msgspec import Struct, structs

from airad.events.stream import check_next
from airad.schemas.knowledge_events import Atom, KnowledgeDistilled, KnowledgeEvent

MAX_EVIDENCE = 8  # evidence entries an atom keeps: the newest first


class KnowledgeState(Struct, frozen=True):
    """Everything a domain's stream says: atom versions in append order and the runs distilled."""

    domain: str
    last_seq: int = 0
    versions: tuple[Atom, ...] = ()
    runs: tuple[str, ...] = ()

    def current(self) -> tuple[Atom, ...]:
        """The newest version of every atom, by atom id."""
        latest: dict[str, Atom] = {}
        for atom in self.versions:
            if atom.atom_id not in latest or atom.version >= latest[atom.atom_id].version:
                latest[atom.atom_id] = atom
        return tuple(latest[key] for key in sorted(latest))

    def history(self, atom_id: str) -> tuple[Atom, ...]:
        """Every version of one atom, oldest first."""
        return tuple(sorted((a for a in self.versions if a.atom_id == atom_id), key=lambda a: a.version))

    def distilled(self, run_id: str) -> bool:
        """Whether the run's findings are in the stream already."""
        return run_id in self.runs


def evolve_knowledge(state: KnowledgeState, event: KnowledgeEvent) -> KnowledgeState:
    """Apply one knowledge event; events must arrive in `seq` order without gaps."""
    check_next("domain", state.domain, state.last_seq, event.domain, event.seq)
    match event:
        case KnowledgeDistilled():
            return structs.replace(
                state, last_seq=event.seq, versions=state.versions + event.atoms, runs=state.runs + (event.run_id,)
            )
    raise TypeError(f"unknown knowledge event {type(event).__name__}")


def fold_knowledge(events: Iterable[KnowledgeEvent], domain: str) -> KnowledgeState:
    """The domain's knowledge after all of `events`."""
    state = KnowledgeState(domain)
    for event in events:
        state = evolve_knowledge(state, event)
    return state


def supersede(current: Sequence[Atom], new: Sequence[Atom]) -> tuple[Atom, ...]:
    """The new atoms as the next versions of the current ones with the same id.

    A new version keeps the older versions' evidence after its own (at most MAX_EVIDENCE entries).
    When it makes the same claim of effect, its confidence grows as independent evidence would
    (1 - (1 - a)(1 - b), at most 0.95); when it reverses the effect, its own confidence stands.
    """
    by_id = {atom.atom_id: atom for atom in current}
    versioned = []
    for atom in new:
        old = by_id.get(atom.atom_id)
        if old is None:
            versioned.append(structs.replace(atom, version=1, supersedes=None))
            continue
        confidence = atom.confidence
        if atom.effect == old.effect:
            confidence = min(0.95, 1 - (1 - atom.confidence) * (1 - old.confidence))
        versioned.append(
            structs.replace(
                atom,
                version=old.version + 1,
                supersedes=old.version,
                confidence=round(confidence, 3),
                evidence=(atom.evidence + old.evidence)[:MAX_EVIDENCE],
            )
        )
    return tuple(versioned)
