"""The `airad` parser as the command groups assemble it: every command once, each with its handler."""

import argparse

from airad.cli import analysis, daemon, environment, experiments, knowledge, runs, tasks, templates, tui
from airad.cli.main import build_parser

COMMANDS = {
    "run", "daemon", "submit", "runs", "show", "events", "cancel", "tui", "export", "import", "report", "mlflow-sync",
    "experiment", "knowledge", "tasks", "task", "environment", "templates", "plugins", "schema", "status",
}


def _parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def test_every_command_is_registered_once():
    [sub] = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    assert set(sub.choices) == COMMANDS


def test_each_command_reaches_its_groups_handler():
    assert _parse("run", "r.toml").handler is runs.cmd_run
    submitted = _parse("submit", "r.toml", "--wait", "--json")
    assert (submitted.handler, submitted.wait, submitted.json) == (runs.cmd_submit, True, True)
    assert _parse("show", "R", "--node", "2").node == 2
    assert _parse("cancel", "R", "--wait").handler is runs.cmd_cancel
    assert _parse("daemon").handler is daemon.cmd_daemon
    assert _parse("tui", "--from", "f.jsonl").handler is tui.cmd_tui
    assert _parse("report", "--label", "a=b").handler is analysis.cmd_report
    assert _parse("experiment", "cancel", "E").handler is experiments.cmd_cancel
    assert _parse("experiment", "ls").handler is experiments.cmd_ls
    assert _parse("knowledge", "ls").handler is knowledge.cmd_knowledge
    assert _parse("tasks", "--metrics").handler is tasks.cmd_tasks
    assert _parse("task", "freeze", "c.toml").handler is tasks.cmd_task_freeze
    probed = _parse("environment", "--executor", "container", "--image", "img:1", "--json")
    assert probed.handler is environment.cmd_environment
    exported = _parse("templates", "aira", "--export", "prompts")
    assert exported.handler is templates.cmd_templates and exported.set == "aira" and str(exported.export) == "prompts"
    assert (probed.executor, probed.image, probed.json) == ("container", "img:1", True)
