"""The replay screen driven by keys: stepping, seeking, jumping to a node, playing; the tree is the
fold of the events up to the position shown."""

from airad.events.fold import fold
from airad.events.in_memory import InMemoryEventLog
from airad.tui.app import AiradApp
from airad.tui.prompt import Prompt
from airad.tui.replay_screen import ReplayScreen
from airad.tui.search_tree import SearchTree
from tests.replay.make_golden import load
from tests.tui.helpers import press, screen_text, tree_lines, until


def assert_shows(screen: ReplayScreen, events: list, position: int) -> None:
    assert screen.position == position
    state = fold(events[:position], events[0].run_id)
    assert screen.state == state
    tree = screen.query_one(SearchTree)
    assert len([line for line in tree_lines(tree) if not line.lstrip().startswith("island")]) == len(state.nodes)
    assert f"event {position}/{len(events)}" in str(screen.query_one("#bar").render())


async def test_step_seek_and_jump_with_keys():
    events = load("greedy")
    app = AiradApp(events=events)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        screen = app.screen
        assert isinstance(screen, ReplayScreen)
        assert_shows(screen, events, 0)
        for key, position in [("right", 1), ("l", 2), ("left", 1), ("h", 0), ("right_square_bracket", 10),
                              ("right_square_bracket", 20), ("left_square_bracket", 10), ("5", 32), ("end", 63),
                              ("home", 0), ("9", 57), ("0", 0)]:
            await press(pilot, key, then=lambda: screen.position == position)
            assert_shows(screen, events, position)

        await press(pilot, "g", then=lambda: isinstance(app.screen, Prompt))
        await press(pilot, *"50%", "enter", then=lambda: app.screen is screen)
        assert_shows(screen, events, 32)
        await press(pilot, "g", "+", "5", "enter", then=lambda: screen.position == 37)
        assert_shows(screen, events, 37)
        await press(pilot, "g", *"x1", "enter", then=lambda: app.screen is screen and "cannot seek" in screen_text(app))
        await press(pilot, "g", then=lambda: isinstance(app.screen, Prompt))
        await press(pilot, "escape", then=lambda: app.screen is screen)
        assert_shows(screen, events, 37)

        position = screen.timeline.selection_of(7)
        await press(pilot, "j", "7", "enter", then=lambda: screen.query_one(SearchTree).highlighted() == 7)
        assert_shows(screen, events, position)
        assert "node 7" in str(screen.query_one("#overview-body").render())
        await press(pilot, "j", "9", "9", "enter", then=lambda: "no node '99'" in screen_text(app))
        assert_shows(screen, events, position)


async def test_going_back_takes_nodes_out_of_the_tree_and_labels_follow_the_state():
    events = load("aira_greedy")
    app = AiradApp(events=events)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        tree = screen.query_one(SearchTree)
        await press(pilot, "end", then=lambda: screen.position == len(events))
        final = tree_lines(tree)
        assert "2 draft buggy" in "\n".join(final) and "★" in "\n".join(final)
        await press(pilot, "home", then=lambda: screen.position == 0)
        assert tree_lines(tree) == []
        await press(pilot, "end", then=lambda: screen.position == len(events))
        assert tree_lines(tree) == final
        first_selected = screen.timeline.selection_of(0)
        await press(pilot, "home", *["right"] * first_selected, then=lambda: screen.position == first_selected)
        assert tree_lines(tree) == ["0 draft selected"]


async def test_play_runs_to_the_end_and_pause_stops():
    events = load("mcts")
    app = AiradApp(events=events)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        await press(pilot, "plus", "plus", "plus", "plus", then=lambda: "200 ev/s" in screen.bar_text())
        await press(pilot, "p", then=lambda: not screen.playing and screen.position == len(events), what="the end")
        assert_shows(screen, events, len(events))

        await press(pilot, *["minus"] * 5, then=lambda: "5 ev/s" in screen.bar_text())
        await press(pilot, "p", then=lambda: screen.playing)
        assert screen.position < len(events), "play at the end starts over"
        await until(pilot, lambda: screen.position >= 3, what="a few events played")
        await press(pilot, "p", then=lambda: not screen.playing)
        stopped = screen.position
        await pilot.pause(0.3)
        assert screen.position == stopped < len(events)
        assert "paused" in screen_text(app)


async def test_replay_of_a_live_log_grows_without_moving():
    events = load("greedy")
    log = InMemoryEventLog()
    for event in events[:20]:
        await log.append(event)
    app = AiradApp(log=log, run_id=events[0].run_id, replay=True)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        await until(pilot, lambda: len(screen.timeline) == 20, what="the first events")
        await press(pilot, "right", "right", then=lambda: screen.position == 2)
        for event in events[20:]:
            await log.append(event)
        await until(pilot, lambda: len(screen.timeline) == len(events), what="the rest")
        assert screen.position == 2
        await press(pilot, "end", then=lambda: screen.position == len(events))
        assert_shows(screen, events, len(events))
