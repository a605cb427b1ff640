"""`airad templates`: the bundled prompt template sets; show one template, or copy a set to a folder
to start a custom one (a request file's `templates_dir`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from airad.cli import output as out
from airad.cli.errors import EXIT_OK, CliError
from airad.daemon.settings import Settings
from airad.daemon.template_sets import bundled_set, bundled_sets


async def cmd_templates(args: argparse.Namespace, settings: Settings) -> int:
    """List the sets, print one template, or export a set."""
    if args.set is None:
        sets = {name: sorted(bundled_set(name)) for name in bundled_sets()}
        print(out.to_json(sets) if args.json else "\n".join(f"{name}: {', '.join(t)}" for name, t in sets.items()))
        return EXIT_OK
    if args.set not in bundled_sets():
        raise CliError(f"no template set {args.set!r} (bundled: {', '.join(bundled_sets())})")
    templates = bundled_set(args.set)
    if args.show:
        if args.show not in templates:
            raise CliError(f"the {args.set} set has no template {args.show!r} (it has: {', '.join(sorted(templates))})")
        print(templates[args.show], end="")
    elif args.export:
        export(templates, args.export, args.force)
        print(f"wrote {len(templates)} templates of the {args.set} set to {args.export}")
    else:
        print(out.to_json(sorted(templates)) if args.json else "\n".join(sorted(templates)))
    return EXIT_OK


def export(templates: dict[str, str], folder: Path, force: bool) -> None:
    """Write each template as `<name>.j2` in `folder`, refusing to overwrite one unless `force`."""
    folder.mkdir(parents=True, exist_ok=True)
    existing = [name for name in templates if (folder / f"{name}.j2").exists()]
    if existing and not force:
        raise CliError(f"{folder} already has {', '.join(f'{n}.j2' for n in sorted(existing))} (use --force)")
    for name, text in templates.items():
        (folder / f"{name}.j2").write_text(text)


def register(command) -> None:
    """Add `templates` to `airad`'s parser."""
    templates = command("templates", cmd_templates, "the bundled prompt template sets: list, show, or export one")
    templates.add_argument("set", nargs="?", help="a bundled set (aide or aira); none: list the sets")
    templates.add_argument("--show", metavar="NAME", help="print one template of the set")
    templates.add_argument("--export", type=Path, metavar="DIR", help="write the set's templates to DIR as NAME.j2")
    templates.add_argument("--force", action="store_true", help="with --export: overwrite existing files")
