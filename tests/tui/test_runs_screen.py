"""The runs screen: every run of the index, live; sort, filter, open a run, replay it, help."""

import time

import msgspec
import pytest
from textual.widgets import DataTable

from airad.events.fold import fold
from airad.events.log import RunSummary
from airad.events.in_memory import InMemoryEventLog, InMemoryRunIndex
from airad.reports.summary import summarize
from airad.tui.app import AiradApp
from airad.tui.help import HelpScreen
from airad.tui.replay_screen import ReplayScreen
from airad.tui.run_screen import RunScreen
from airad.tui.runs_screen import RunsScreen
from tests.replay.make_golden import POLICIES, load
from tests.tui.helpers import press, screen_text, until


async def golden_sources() -> tuple[InMemoryEventLog, InMemoryRunIndex]:
    log, index = InMemoryEventLog(), InMemoryRunIndex()
    for offset, name in enumerate(POLICIES):
        events = load(name)
        for event in events:
            await log.append(event)
        summary = summarize(fold(events), time.time())
        await index.put(msgspec.structs.replace(summary, submitted_at=1000.0 + offset))
    return log, index


def row_ids(screen: RunsScreen) -> list[str]:
    table = screen.query_one(DataTable)
    return [row.key.value for row in table.ordered_rows]


async def test_runs_are_listed_sorted_filtered_and_updated_live():
    log, index = await golden_sources()
    app = AiradApp(log=log, index=index, refresh_s=0.05)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        await until(pilot, lambda: len(row_ids(screen)) == 4, what="four runs")
        assert row_ids(screen) == ["golden-evolutionary", "golden-mcts", "golden-aira-greedy", "golden-greedy"], "newest first"
        assert "sorted by age (newest first)" in screen_text(app)
        await press(pilot, "S", then=lambda: row_ids(screen)[0] == "golden-greedy")

        await press(pilot, "s", then=lambda: screen.column == "run")
        assert row_ids(screen) == sorted(row_ids(screen))
        await press(pilot, "s", "s", "s", "s", then=lambda: screen.column == "nodes")
        nodes = [screen.summaries[run_id].nodes for run_id in row_ids(screen)]
        assert screen.descending and nodes == sorted(nodes, reverse=True)

        await press(pilot, "slash", *"policy:greedy", then=lambda: row_ids(screen) == ["golden-greedy"])
        await press(pilot, "escape", "backspace", then=lambda: screen.query_one(DataTable).has_focus)
        assert row_ids(screen) == ["golden-greedy"], "backspace in the table is no filter edit"
        await press(pilot, "slash", *["backspace"] * 13, *"wine", "enter",
                    then=lambda: sorted(row_ids(screen)) == ["golden-aira-greedy", "golden-mcts"])
        await press(pilot, "slash", *["backspace"] * 4, "enter", then=lambda: len(row_ids(screen)) == 4)

        table = screen.query_one(DataTable)
        await index.put(RunSummary("new-run", "running", task="iris", policy="mcts", nodes=2, in_flight=1, submitted_at=time.time()))
        await until(pilot, lambda: len(row_ids(screen)) == 5, what="the new run")
        assert table.get_cell("new-run", "nodes") == "2/0/1"
        before = row_ids(screen)
        await index.put(RunSummary("new-run", "running", task="iris", policy="mcts", nodes=3, buggy=1, in_flight=1,
                                   submitted_at=(await index.get("new-run")).submitted_at))
        await until(pilot, lambda: table.get_cell("new-run", "nodes") == "3/1/1", what="the run's new counts")
        assert row_ids(screen) == before


@pytest.mark.parametrize("size", [(80, 24), (200, 60)])
async def test_open_a_run_go_back_replay_it_and_read_the_help(size):
    log, index = await golden_sources()
    app = AiradApp(log=log, index=index, refresh_s=0.05)
    async with app.run_test(size=size) as pilot:
        screen = app.screen
        await until(pilot, lambda: len(row_ids(screen)) == 4, what="four runs")
        await press(pilot, "down", "enter", then=lambda: isinstance(app.screen, RunScreen), what="the run screen")
        run = app.screen
        assert run.run_id == "golden-mcts" and not isinstance(run, ReplayScreen)
        await until(pilot, lambda: run.caught_up and run.state.status == "finished", what="the whole run")
        assert "run golden-mcts" in screen_text(app)

        await press(pilot, "question_mark", then=lambda: isinstance(app.screen, HelpScreen))
        assert "Best node" in screen_text(app)
        await press(pilot, "escape", then=lambda: app.screen is run)
        await press(pilot, "escape", then=lambda: app.screen is screen)
        await press(pilot, "r", then=lambda: isinstance(app.screen, ReplayScreen), what="the replay screen")
        replay = app.screen
        await until(pilot, lambda: len(replay.timeline) == len(load("mcts")), what="the events")
        assert replay.position == 0
        await press(pilot, "question_mark", then=lambda: "Jump to node" in screen_text(app))
        await press(pilot, "escape", "escape", then=lambda: app.screen is screen)
        await press(pilot, "question_mark", then=lambda: "Sort" in screen_text(app) and "Filter" in screen_text(app))


class BrokenIndex:
    """A run index whose connection is gone."""

    async def watch(self):
        raise ConnectionError("nats: connection closed")

    async def list(self):
        raise ConnectionError("nats: connection closed")


async def test_a_failing_feed_is_reported_and_the_app_stays():
    app = AiradApp(index=BrokenIndex(), refresh_s=0.05)
    async with app.run_test(size=(100, 24), notifications=True) as pilot:
        await until(pilot, lambda: "connection closed" in screen_text(app), what="the notification")
        assert "the runs list stopped" in screen_text(app) and isinstance(app.screen, RunsScreen)
