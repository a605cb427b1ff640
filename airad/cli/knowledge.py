"""`airad knowledge ls [DOMAIN]` and `airad knowledge show DOMAIN ATOM`: what runs learnt, per domain."""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping

from airad.cli import output as out
from airad.cli.connection import connect
from airad.cli.errors import EXIT_FAILED, EXIT_OK, CliError
from airad.daemon.settings import Settings
from airad.events.knowledge_fold import KnowledgeState, fold_knowledge
from airad.schemas.knowledge_events import Atom

CLAIM_CHARS = 80


async def _histories(settings: Settings, environ: Mapping[str, str], domain: str | None) -> dict[str, list]:
    """The knowledge events of one domain, or of every domain, by domain."""
    from airad.events.knowledge_log import JetStreamKnowledgeLog

    async with connect(settings, environ) as client:
        log = JetStreamKnowledgeLog(client.js)
        domains = [domain] if domain is not None else await log.domains()
        return {name: await log.read(name) for name in domains}


async def _domain(settings: Settings, environ: Mapping[str, str], domain: str) -> KnowledgeState:
    events = (await _histories(settings, environ, domain))[domain]
    if not events:
        raise CliError(f"no knowledge in domain {domain!r}", EXIT_FAILED)
    return fold_knowledge(events, domain)


async def cmd_knowledge(args: argparse.Namespace, settings: Settings) -> int:
    """`airad knowledge ls|show`."""
    return await (cmd_knowledge_ls if args.knowledge_command == "ls" else cmd_knowledge_show)(args, settings)


async def cmd_knowledge_ls(args: argparse.Namespace, settings: Settings) -> int:
    """`airad knowledge ls [DOMAIN]`: the domains, or a domain's current atoms, most confident first."""
    if args.domain is None:
        histories = await _histories(settings, args.environ, None)
        rows = [_domain_row(domain, events) for domain, events in histories.items()]
        print(out.to_json(rows) if args.json else _domains_table(rows))
        return EXIT_OK
    state = await _domain(settings, args.environ, args.domain)
    atoms = sorted(state.current(), key=lambda a: (-a.confidence, a.atom_id))
    print(out.to_json(atoms) if args.json else _atoms_table(atoms))
    return EXIT_OK


async def cmd_knowledge_show(args: argparse.Namespace, settings: Settings) -> int:
    """`airad knowledge show DOMAIN ATOM`: an atom's claim, evidence and versions."""
    state = await _domain(settings, args.environ, args.domain)
    history = state.history(args.atom)
    if not history:
        raise CliError(
            f"domain {args.domain} has no atom {args.atom!r} (`airad knowledge ls {args.domain}` lists them)",
            EXIT_FAILED,
        )
    if args.json:
        print(out.to_json({"domain": args.domain, "atom": history[-1], "history": history}))
    else:
        print(_atom_detail(args.domain, history))
    return EXIT_OK


def _domain_row(domain: str, events: list) -> dict:
    state = fold_knowledge(events, domain)
    return {
        "domain": domain,
        "atoms": len(state.current()),
        "versions": len(state.versions),
        "runs": list(state.runs),
        "last_seq": state.last_seq,
        "updated_at": events[-1].at if events else None,
    }


def _domains_table(rows: list[dict]) -> str:
    if not rows:
        return "no knowledge yet: runs with a `domain` add theirs when they end"
    lines = [("DOMAIN", "ATOMS", "VERSIONS", "RUNS", "UPDATED")]
    for row in rows:
        updated = time.strftime("%Y-%m-%d %H:%M", time.localtime(row["updated_at"])) if row["updated_at"] else "-"
        lines.append((row["domain"], str(row["atoms"]), str(row["versions"]), str(len(row["runs"])), updated))
    return out.table(lines)


def _atoms_table(atoms: list[Atom]) -> str:
    lines = [("ATOM", "V", "EFFECT", "KIND", "CONF", "RUNS", "CLAIM")]
    for atom in atoms:
        claim = atom.claim if len(atom.claim) <= CLAIM_CHARS else atom.claim[: CLAIM_CHARS - 3] + "..."
        runs = len({e.run_id for e in atom.evidence})
        lines.append(
            (atom.atom_id, str(atom.version), atom.effect, atom.kind, f"{atom.confidence:.2f}", str(runs), claim)
        )
    return out.table(lines)


def _atom_detail(domain: str, history: tuple[Atom, ...]) -> str:
    atom = history[-1]
    source = "worded by the model" if atom.source == "model" else "derived from the evidence alone"
    lines = [
        f"atom {atom.atom_id} v{atom.version} of domain {domain}: {atom.effect} ({atom.kind}), "
        f"confidence {atom.confidence:.2f}, {source}",
        f"claim: {atom.claim}",
        "evidence (validation score deltas measured by the harness):",
    ]
    for evidence in atom.evidence:
        pairs = zip(evidence.node_ids, evidence.score_deltas, strict=False)
        deltas = ", ".join(f"{node} ({delta:+.4g})" for node, delta in pairs)
        direction = ", lower is better" if evidence.lower_is_better else ""
        lines.append(f"  run {evidence.run_id}: nodes {deltas} {evidence.metric}{direction}".rstrip())
    lines.append("history:")
    for version in history:
        run = version.evidence[0].run_id if version.evidence else "-"
        replaced = f", supersedes v{version.supersedes}" if version.supersedes else ""
        lines.append(
            f"  v{version.version}  {version.effect:<6} {version.confidence:.2f}  run {run}{replaced}: {version.claim}"
        )
    return "\n".join(lines)


def register(command) -> None:
    """Add `airad knowledge ls|show` to `airad`'s parser; `command(name, handler, help)` makes one subparser."""
    knowledge = command(
        "knowledge",
        cmd_knowledge,
        "knowledge atoms that runs of a domain learnt: `ls [DOMAIN]`, `show DOMAIN ATOM`",
        json_flag=False,
    )
    sub = knowledge.add_subparsers(dest="knowledge_command", required=True)
    ls = sub.add_parser("ls", help="list domains, or a domain's current atoms (most confident first)")
    ls.add_argument("domain", nargs="?", metavar="DOMAIN")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    show = sub.add_parser("show", help="an atom's claim, evidence and history of versions")
    show.add_argument("domain", metavar="DOMAIN")
    show.add_argument("atom", metavar="ATOM")
    show.add_argument("--json", action="store_true", help="machine-readable output")
