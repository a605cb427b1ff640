"""The replay screen driven by keys: stepping, seeking, jumping to a node, playing; the tree is the
fold of the events up to the position shown."""

from airad.events.fold import fold
from airad.events.memory import InMemoryEventLog
from airad.tui.app import AiradApp
from airad.tui.prompt import Prompt
from airad.tui.replay_screen import ReplayScreen
from airad.tui.search_tree import SearchTree
from tests.replay.make_golden import load
from tests.tui.helpers import screen_text, tree_lines, until


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
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        assert isinstance(screen, ReplayScreen)
        assert_shows(screen, events, 0)
        for key, position in [("right", 1), ("l", 2), ("left", 1), ("h", 0), ("left", 0), ("right_square_bracket", 10),
                              ("right_square_bracket", 20), ("left_square_bracket", 10), ("5", 32), ("end", 63),
                              ("right", 63), ("home", 0), ("9", 57), ("0", 0)]:
            await pilot.press(key)
            assert_shows(screen, events, position)

        await pilot.press("g")
        assert isinstance(app.screen, Prompt)
        await pilot.press(*"50%", "enter")
        assert_shows(screen, events, 32)
        await pilot.press("g", "+", "5", "enter")
        assert_shows(screen, events, 37)
        await pilot.press("g", *"x1", "enter")
        assert_shows(screen, events, 37)
        await pilot.press("g", "escape")
        assert app.screen is screen

        await pilot.press("j", "7", "enter")
        position = screen.timeline.selection_of(7)
        assert_shows(screen, events, position)
        await until(pilot, lambda: screen.query_one(SearchTree).highlighted() == 7, what="cursor on node 7")
        assert "node 7" in str(screen.query_one("#overview-body").render())
        await pilot.press("j", "9", "9", "enter")
        assert_shows(screen, events, position)


async def test_going_back_takes_nodes_out_of_the_tree_and_labels_follow_the_state():
    events = load("aira_greedy")
    app = AiradApp(events=events)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        await pilot.press("end")
        tree = screen.query_one(SearchTree)
        final = tree_lines(tree)
        assert "2 draft buggy" in "\n".join(final) and "★" in "\n".join(final)
        await pilot.press("home")
        assert tree_lines(tree) == []
        await pilot.press("end")
        assert tree_lines(tree) == final
        first_selected = screen.timeline.selection_of(0)
        await pilot.press("home", *["right"] * first_selected)
        assert tree_lines(tree) == ["0 draft selected"]


async def test_play_runs_to_the_end_and_pause_stops():
    events = load("mcts")
    app = AiradApp(events=events)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        await pilot.press("plus", "plus", "plus", "plus")
        assert "200 ev/s" in screen.bar_text()
        await pilot.press("p")
        await until(pilot, lambda: not screen.playing and screen.position == len(events), what="the end of the replay")
        assert_shows(screen, events, len(events))

        await pilot.press("minus", "minus", "minus", "minus", "minus")
        assert "5 ev/s" in screen.bar_text()
        await pilot.press("p")
        assert screen.playing and screen.position < len(events), "play at the end starts over"
        await until(pilot, lambda: screen.position >= 3, what="a few events played")
        await pilot.press("p")
        stopped = screen.position
        await pilot.pause(0.3)
        assert not screen.playing and screen.position == stopped < len(events)
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
        await pilot.press("right", "right")
        for event in events[20:]:
            await log.append(event)
        await until(pilot, lambda: len(screen.timeline) == len(events), what="the rest")
        assert screen.position == 2
        await pilot.press("end")
        assert_shows(screen, events, len(events))
