"""Files a request file names beside it, resolved relative to the request file and inlined.

`program_file = "PROGRAM.md"` becomes `program` (its text) and `baseline_file = "train.py"` becomes
`baseline` (the script's source), also in an experiment's solvers; `templates_dir = "my-prompts"` in
`operators` becomes `templates`, the text of the folder's `*.j2` files by name; a script task's relative `dir`
(in `task`, or in an experiment's `tasks`) becomes an absolute path. So what
is published on `airad.requests` is always self-contained: text, and paths that do not depend on
where the request file was.
"""

from __future__ import annotations

from pathlib import Path

from airad.schemas.errors import FieldError
from airad.schemas.policies import MAX_TEMPLATE_CHARS, MAX_TEMPLATES
from airad.schemas.request import MAX_BASELINE_CHARS, MAX_PROGRAM_CHARS

FILE_FIELDS = {"program_file": ("program", MAX_PROGRAM_CHARS), "baseline_file": ("baseline", MAX_BASELINE_CHARS)}


def inline_files(data: object, base_dir: Path) -> object:
    """The request `data` (a decoded TOML or JSON document) with its file references inlined;
    anything that is not a table is returned as it is, for the typed decoding to reject."""
    if not isinstance(data, dict):
        return data
    data = _inline_text_files(dict(data), base_dir, "$")
    for key in ("task", "tasks"):
        if isinstance(data.get(key), dict):
            data[key] = _absolute_dir(data[key], base_dir)
        elif isinstance(data.get(key), list):
            data[key] = [_absolute_dir(task, base_dir) for task in data[key]]
    if isinstance(data.get("solvers"), list):
        data["solvers"] = [
            _inline_text_files(dict(solver), base_dir, f"$.solvers[{index}]") if isinstance(solver, dict) else solver
            for index, solver in enumerate(data["solvers"])
        ]
    return data


def _inline_text_files(data: dict, base_dir: Path, at: str) -> dict:
    for file_field, (text_field, limit) in FILE_FIELDS.items():
        if file_field not in data:
            continue
        name = data.pop(file_field)
        where = f"{at}.{file_field}"
        if text_field in data:
            raise FieldError(where, f"give {text_field} or {file_field}, not both")
        if not isinstance(name, str) or not name:
            raise FieldError(where, "expected the name of a file")
        data[text_field] = _read_text(base_dir / name, where, limit)
    if isinstance(data.get("operators"), dict) and "templates_dir" in data["operators"]:
        data["operators"] = _inline_templates(dict(data["operators"]), base_dir, f"{at}.operators")
    return data


def _inline_templates(operators: dict, base_dir: Path, at: str) -> dict:
    """`templates_dir` becomes `templates`: each `<name>.j2` file of the folder by name."""
    name = operators.pop("templates_dir")
    where = f"{at}.templates_dir"
    if "templates" in operators:
        raise FieldError(where, "give templates or templates_dir, not both")
    if not isinstance(name, str) or not name:
        raise FieldError(where, "expected the name of a folder")
    folder = base_dir / name
    if not folder.is_dir():
        raise FieldError(where, f"{folder} is not a folder")
    files = sorted(folder.glob("*.j2"))
    if not files:
        raise FieldError(where, f"{folder} holds no *.j2 template")
    if len(files) > MAX_TEMPLATES:
        raise FieldError(where, f"{folder} holds {len(files)} templates; the limit is {MAX_TEMPLATES}")
    operators["templates"] = {path.stem: _read_text(path, where, MAX_TEMPLATE_CHARS) for path in files}
    return operators


HOST_PATHS = ("train", "test", "path", "dir", "data_dir", "leaderboard")
"""A task's fields that name a file or folder on the daemon's host: published absolute (or `~/...`)."""


def _absolute_dir(task: object, base_dir: Path) -> object:
    """The task with each of its relative host paths made absolute beside the request file."""
    if not isinstance(task, dict):
        return task
    return {
        key: str((base_dir / value).resolve()) if key in HOST_PATHS and is_relative_host_path(value) else value
        for key, value in task.items()
    }


def is_relative_host_path(value: object) -> bool:
    """Whether `value` is a relative path: not absolute, not under a home (`~`, which the daemon expands)."""
    return isinstance(value, str) and bool(value) and not value.startswith(("/", "~"))


def _read_text(path: Path, where: str, limit: int) -> str:
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise FieldError(where, f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise FieldError(where, f"{path} is not UTF-8 text") from None
    if len(text) > limit:
        raise FieldError(where, f"{path} has {len(text)} characters; the limit is {limit}")
    return text
