"""Prompt templates: every model-facing prompt is rendered from a Jinja2 template in a sandbox.

A template set maps names to template text: `system` (the system message of every operator), one
template per operator (`draft`, `improve`, `debug`, `crossover`, `analyze`, `distill`), and partials
whose names start with `_` (for `{% include %}` and `{% import %}`). The environment is sandboxed
(no attribute of Python internals, bounded `range`) and strict: a name the context lacks is an error,
never an empty string. `template_problems` is what intake checks before any node runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache

import msgspec
from jinja2 import DictLoader, StrictUndefined, TemplateError, TemplateNotFound, TemplateSyntaxError, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from airad.agents.operators import Message
from airad.agents.prompt_context import DistillContext, OperatorContext
from airad.agents.template_samples import CONTRACT_SENTINEL, sample_contexts
from airad.schemas.policies import MAX_TEMPLATE_CHARS

SYSTEM = "system"
OPERATOR_TEMPLATES = ("draft", "improve", "debug", "crossover", "analyze", "distill")
TEMPLATE_NAMES = (SYSTEM, *OPERATOR_TEMPLATES)
MAX_PROMPT_CHARS = 2_000_000
JINJA_NAMES = frozenset(
    {"range", "loop", "dict", "lipsum", "cycler", "joiner", "namespace", "self", "varargs", "kwargs"}
)


class TemplateProblem(ValueError):
    """A template that cannot be used: `name` is the template, the message says why."""

    def __init__(self, name: str, reason: str):
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


def _environment(templates: Mapping[str, str]) -> ImmutableSandboxedEnvironment:
    return _cached_environment(tuple(sorted(templates.items())))


@lru_cache(maxsize=64)
def _cached_environment(templates: tuple[tuple[str, str], ...]) -> ImmutableSandboxedEnvironment:
    """One environment per distinct set of texts: Jinja keeps each template compiled in it."""
    env = ImmutableSandboxedEnvironment(
        loader=DictLoader(dict(templates)),
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["demote_headings"] = demote_headings
    return env


def demote_headings(markdown: str) -> str:
    """Markdown with its headings one level deeper (outside code fences), so a user's text placed in a
    `# ` section keeps its own headings inside it (the `demote_headings` filter)."""
    lines, fenced = [], False
    for line in markdown.strip().splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            line = "#" + line
        lines.append(line)
    return "\n".join(lines)


def render(templates: Mapping[str, str], name: str, context: OperatorContext | DistillContext) -> str:
    """Template `name` of the set rendered with `context`; `TemplateProblem` when it cannot be."""
    try:
        text = _environment(templates).get_template(name).render(msgspec.to_builtins(context))
    except TemplateError as exc:
        raise TemplateProblem(name, _reason(exc)) from None
    except Exception as exc:  # the template's own code failed: a bad filter argument, a huge range, a division
        raise TemplateProblem(name, f"does not render: {type(exc).__name__}: {exc}") from None
    if len(text) > MAX_PROMPT_CHARS:
        raise TemplateProblem(name, f"renders to {len(text)} characters, over {MAX_PROMPT_CHARS}")
    return tidy(text)


def tidy(text: str) -> str:
    """Runs of blank lines outside code fences become one, and the text ends with one newline; what
    is inside a fence (a parent's code, a script's output) is kept exactly."""
    kept: list[str] = []
    fenced = False
    for line in text.strip().splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced and not line.strip() and (not kept or not kept[-1].strip()):
            continue
        kept.append(line.rstrip() if not fenced else line)
    return "\n".join(kept) + "\n"


def messages(templates: Mapping[str, str], context: OperatorContext | DistillContext) -> tuple[Message, ...]:
    """The chat messages of one operator application: the `system` template, then the operator's."""
    return (
        Message("system", render(templates, SYSTEM, context).strip()),
        Message("user", render(templates, context.operator, context)),
    )


def template_problems(templates: Mapping[str, str], custom: Iterable[str] = ()) -> list[TemplateProblem]:
    """Why the set cannot be used, one problem per template: a name that is neither a template nor a
    partial, text that does not compile, a variable no context has, a render that fails or gives
    nothing, or an operator prompt that leaves out `output_contract`. `custom` names the templates
    the user brought; the others are checked only through them."""
    problems: list[TemplateProblem] = []
    env = _environment(templates)
    known = _context_names()
    for name in custom:
        if name not in TEMPLATE_NAMES and not name.startswith("_"):
            problems.append(TemplateProblem(name, f"is not a template name (one of {', '.join(TEMPLATE_NAMES)})"))
            continue
        text = templates[name]
        if len(text) > MAX_TEMPLATE_CHARS:
            problems.append(TemplateProblem(name, f"is {len(text)} characters long, over {MAX_TEMPLATE_CHARS}"))
            continue
        try:
            unknown = sorted(meta.find_undeclared_variables(env.parse(text)) - known - JINJA_NAMES)
        except TemplateSyntaxError as exc:
            problems.append(TemplateProblem(name, _reason(exc)))
            continue
        if unknown:
            problems.append(TemplateProblem(name, f"names unknown variable(s): {', '.join(unknown)}"))
    if problems:
        return problems
    for name in TEMPLATE_NAMES:
        problem = _render_problem(templates, name)
        if problem is not None:
            problems.append(problem)
    return problems


def plugin_template_problem(templates: Mapping[str, str], name: str, like: str) -> TemplateProblem | None:
    """Why a plugin operator's template `name` (in `templates`, beside a bundled set) cannot be used:
    checked like a request's own template, on the sample contexts of the built-in operator `like`."""
    env = _environment(templates)
    try:
        unknown = sorted(meta.find_undeclared_variables(env.parse(templates[name])) - _context_names() - JINJA_NAMES)
    except TemplateSyntaxError as exc:
        return TemplateProblem(name, _reason(exc))
    if unknown:
        return TemplateProblem(name, f"names unknown variable(s): {', '.join(unknown)}")
    for context in sample_contexts(like):
        try:
            text = render(templates, name, msgspec.structs.replace(context, operator=name))
        except TemplateProblem as exc:
            return exc
        if CONTRACT_SENTINEL not in text:
            return TemplateProblem(name, "leaves out the output contract: include {{ output_contract }}")
    return None


def _render_problem(templates: Mapping[str, str], name: str) -> TemplateProblem | None:
    if name not in templates:
        return TemplateProblem(name, "is missing from the set")
    operators = OPERATOR_TEMPLATES if name == SYSTEM else (name,)
    for context in (c for operator in operators for c in sample_contexts(operator)):
        try:
            text = render(templates, name, context)
        except TemplateProblem as exc:
            return exc
        if not text.strip():
            return TemplateProblem(name, "renders to nothing")
        if name != SYSTEM and CONTRACT_SENTINEL not in text:
            return TemplateProblem(name, "leaves out the output contract: include {{ output_contract }}")
    return None


def _context_names() -> frozenset[str]:
    return frozenset(OperatorContext.__struct_fields__) | frozenset(DistillContext.__struct_fields__)


def _reason(exc: TemplateError) -> str:
    line = getattr(exc, "lineno", None)
    where = f"line {line}: " if line else ""
    if isinstance(exc, TemplateNotFound):
        return f"uses a template the set does not have: {exc.name!r}"
    if isinstance(exc, TemplateSyntaxError):
        return f"does not compile: {where}{exc.message}"
    return f"does not render: {where}{exc}"
