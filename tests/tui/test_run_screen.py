"""The live run screen: a worker tails the log, the tree grows in place (lazily for big runs),
the detail tabs follow the cursor."""

from airad.events.in_memory import InMemoryEventLog
from airad.schemas.events import RunFinished
from airad.tui.app import AiradApp
from airad.tui.node_detail import NodeDetail
from airad.tui.run_screen import RunScreen
from airad.tui.search_tree import SearchTree
from tests.factories import History
from tests.replay.make_golden import load
from tests.tui.helpers import press, tree_lines, until, wide_run


def text_of(screen, selector: str) -> str:
    return str(screen.query_one(selector).render())


async def test_live_run_grows_as_events_are_appended():
    log = InMemoryEventLog()
    history = History("live").node(0, "draft", score=0.7).node(1, "improve", (0,), score=0.8).node(2, "debug", (1,), score=None)
    history.add(RunFinished, reason="max_nodes", best_node_id=1)
    events = history.events
    await log.append(events[0])
    app = AiradApp(log=log, run_id="live")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, RunScreen)
        tree = screen.query_one(SearchTree)
        await until(pilot, lambda: screen.state.status == "running", what="run.submitted folded")
        assert tree_lines(tree) == [] and "0 nodes" in text_of(screen, "#header")

        await log.append(events[1])
        await until(pilot, lambda: tree_lines(tree) == ["0 draft selected"], what="node 0 selected")
        item = tree.root.children[0]

        for event in events[2:-1]:
            await log.append(event)
        await until(pilot, lambda: screen.caught_up and len(screen.state.nodes) == 3, what="three nodes")
        assert tree_lines(tree) == ["0 draft scored 0.7", "  1 improve scored 0.8 ★", "    2 debug buggy"]
        assert tree.root.children[0] is item, "the tree is updated in place, not rebuilt"
        assert "3 nodes (1 buggy, 0 in flight)" in text_of(screen, "#header")
        assert "best node 1" in text_of(screen, "#header")

        await log.append(events[-1])
        await until(pilot, lambda: "finished (max_nodes)" in text_of(screen, "#header"), what="run.finished")


async def test_detail_tabs_follow_the_cursor_and_keys():
    log = InMemoryEventLog()
    history = History("tabs").node(0, "draft", score=0.6, plan="fit a forest").node(1, "improve", (0,), score=0.9)
    history.node(2, "debug", (0,), score=None, exit_code=1)
    for event in history.events:
        await log.append(event)
    app = AiradApp(log=log, run_id="tabs")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        await until(pilot, lambda: screen.caught_up and len(screen.state.nodes) == 3)
        detail = screen.query_one(NodeDetail)
        assert "node 2 debug" in text_of(screen, "#overview-body"), "the newest node before the cursor moves"
        tree = screen.query_one(SearchTree)
        await press(pilot, "b", then=lambda: tree.highlighted() == 1, what="cursor on the best node")
        assert "node 1 improve ← 0" in text_of(screen, "#overview-body")
        await press(pilot, "d", then=lambda: detail.active == "diff")
        assert "same code as its parent" in text_of(screen, "#diff-body")
        await press(pilot, "up", then=lambda: tree.highlighted() == 0)
        assert "fit a forest" in text_of(screen, "#overview-body")
        assert "a draft: no parent" in text_of(screen, "#diff-body")
        await press(pilot, "c", then=lambda: detail.active == "code")
        await press(pilot, "down", "down", "o", then=lambda: detail.active == "output" and tree.highlighted() == 2)
        assert "Traceback: boom" in text_of(screen, "#output-body")


async def test_a_big_run_gets_tree_lines_only_where_expanded():
    history = wide_run(600, drafts=4)
    log = InMemoryEventLog()
    for event in history.events:
        await log.append(event)
    app = AiradApp(log=log, run_id="wide")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        tree = screen.query_one(SearchTree)
        await until(pilot, lambda: screen.caught_up and len(screen.state.nodes) == 600, what="600 nodes folded")
        assert [line.split()[:2] for line in tree_lines(tree)] == [["0", "draft"], ["1", "draft"], ["2", "draft"], ["3", "draft"]]
        assert len(tree._tree_nodes) == 5, "only the drafts (and the root) have tree nodes"
        draft = 599
        while screen.state.nodes[draft].parent_ids:
            draft = screen.state.nodes[draft].parent_ids[0]
        assert tree.highlighted() == draft, "the cursor is on the draft under which the newest node hangs"
        await press(pilot, *["up"] * draft, then=lambda: tree.highlighted() == 0, what="the cursor on node 0")
        await press(pilot, "space", then=lambda: len(tree_lines(tree)) > 4, what="node 0's children")
        children = [n.data for n in tree.root.children[0].children]
        assert children == [n.id for n in screen.state.nodes if n.parent_ids[:1] == (0,)]
        assert len(tree._tree_nodes) == 5 + len(children)


def shown_node(screen) -> str:
    return text_of(screen, "#overview-body").splitlines()[0]


async def test_the_detail_shows_the_node_under_the_cursor_which_follows_the_newest_until_moved():
    log = InMemoryEventLog()
    history = History("cursor").node(0, "draft", score=0.6, plan="plan zero")
    for node_id, plan in ((1, "plan one"), (2, "plan two"), (3, "plan three"), (4, "plan four")):
        history.node(node_id, "improve", (0,), score=0.5 + node_id / 10, plan=plan)
    events = history.events
    first_three = 1 + 3 * 5
    for event in events[:first_three]:
        await log.append(event)
    app = AiradApp(log=log, run_id="cursor")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        tree = screen.query_one(SearchTree)
        await until(pilot, lambda: screen.caught_up and len(screen.state.nodes) == 3, what="three nodes")
        assert tree.highlighted() == 2 and shown_node(screen).startswith("node 2 "), "the cursor is on the node shown"

        for event in events[first_three : first_three + 5]:
            await log.append(event)
        await until(pilot, lambda: tree.highlighted() == 3, what="the cursor following the newest node")
        assert shown_node(screen).startswith("node 3 ")

        await press(pilot, "up", then=lambda: tree.highlighted() == 2, what="the cursor on node 2")
        await press(pilot, "enter", then=lambda: tree.highlighted() == 2)
        assert shown_node(screen).startswith("node 2 improve ← 0") and "plan two" in text_of(screen, "#overview-body")

        for event in events[first_three + 5 :]:
            await log.append(event)
        await until(pilot, lambda: screen.caught_up and len(screen.state.nodes) == 5, what="five nodes")
        assert tree.highlighted() == 2 and shown_node(screen).startswith("node 2 "), "a moved cursor stays put"


async def test_on_an_island_line_the_detail_shows_no_node():
    events = load("evolutionary")
    app = AiradApp(events=events)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        tree = screen.query_one(SearchTree)
        await press(pilot, "end", then=lambda: screen.position == len(events))
        newest = len(screen.state.nodes) - 1
        assert tree.highlighted() == newest and shown_node(screen).startswith(f"node {newest} ")
        for _ in range(tree.cursor_line):
            await press(pilot, "up", then=lambda line=tree.cursor_line: tree.cursor_line == line - 1)
        assert str(tree.cursor_node.label) == "island 0"
        assert text_of(screen, "#overview-body") == "move the cursor onto a node"
