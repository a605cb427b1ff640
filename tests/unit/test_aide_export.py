"""The AIDE-style export: journal.json in the shape AIDE's Journal serialiser writes, the chosen script, the tree page."""

import json
import re

from airad.reports.aide_export import aide_journal, exc_type, exception_name, export_aide
from airad.events.fold import fold
from airad.reports.html_tree import render_tree
from airad.events.in_memory import InMemoryBlobStore, InMemoryEventLog
from tests.export_fixtures import HOSTILE_CODE, TRACEBACK, stored_run

AIDE_NODE_FIELDS = {
    "code", "plan", "step", "id", "ctime", "parent", "children", "_term_out", "exec_time", "exc_type", "exc_info",
    "exc_stack", "analysis", "metric", "is_buggy",
}


async def _files():
    log, blobs, events = await stored_run()
    return await export_aide(log, blobs, "r1"), fold(events)


async def test_journal_has_aide_top_level_and_node_fields():
    files, state = await _files()
    journal = json.loads(files["journal.json"])
    assert set(journal) == {"nodes", "node2parent", "__version", "airad"}
    assert journal["__version"] == "2"
    assert [n["step"] for n in journal["nodes"]] == [0, 1, 2, 3]
    for node in journal["nodes"]:
        assert set(node) == AIDE_NODE_FIELDS | {"airad"}
        assert node["parent"] is None and node["children"] == []
        assert isinstance(node["id"], str) and isinstance(node["ctime"], float)
        assert isinstance(node["_term_out"], list) and all(isinstance(part, str) for part in node["_term_out"])
        assert set(node["metric"]) == {"value", "maximize"}
    assert journal["node2parent"] == {"1": "0", "2": "0", "3": "0"}
    assert journal["airad"] == {"run_id": "r1", "task": "wine", "status": "finished", "finish_reason": "max_nodes",
                                "metric": "accuracy", "lower_is_better": False, "best_node_id": 0}


async def test_journal_nodes_carry_the_run_as_the_fold_reads_it():
    files, state = await _files()
    draft, debug, improve, crossover = json.loads(files["journal.json"])["nodes"]
    assert draft["plan"] == "draft plan: a random forest" and draft["code"] == state.nodes[0].code
    assert draft["metric"] == {"value": 0.93, "maximize": True} and draft["is_buggy"] is False
    assert draft["exec_time"] == 2.5 and draft["exc_type"] is None and draft["analysis"] == "review of node 0"
    assert draft["_term_out"] == ["full stdout of node 0\n" * 3], "the full output from the blob store, not the tail"
    assert draft["ctime"] == state.nodes[0].selected_at
    assert draft["airad"]["children_ids"] == [1, 2, 3] and draft["airad"]["test_score"] == 0.91
    assert debug["is_buggy"] is True and debug["metric"] == {"value": None, "maximize": True}
    assert debug["exc_type"] == "ValueError" and debug["_term_out"][1] == TRACEBACK
    assert improve["metric"]["value"] == 0.91 and improve["code"] == HOSTILE_CODE
    assert crossover["is_buggy"] is True and crossover["exec_time"] is None and crossover["_term_out"] == []
    assert crossover["analysis"] == "generate: no code block in the answer"
    assert crossover["airad"]["parent_ids"] == [0, 2] and crossover["airad"]["operator"] == "crossover"


async def test_best_solution_is_the_node_chosen_by_validation():
    files, state = await _files()
    assert set(files) == {"journal.json", "tree.html", "best_solution.py"}
    assert files["best_solution.py"] == state.nodes[0].code


async def test_no_valid_node_means_no_best_solution_and_an_unknown_run_is_a_lookup_error():
    log, blobs, events = await stored_run()
    unfinished = InMemoryEventLog()
    for event in events[:4]:
        await unfinished.append(event)
    files = await export_aide(unfinished, InMemoryBlobStore(), "r1")
    assert set(files) == {"journal.json", "tree.html"}
    assert json.loads(files["journal.json"])["airad"]["best_node_id"] is None
    try:
        await export_aide(log, blobs, "nope")
    except LookupError as exc:
        assert "no run 'nope'" in str(exc)
    else:
        raise AssertionError("expected LookupError")


def test_lower_is_better_and_the_tails_when_no_outputs_are_given():
    import msgspec

    from tests.factories import History

    h = History().node(0, "draft", score=0.4).node(1, "improve", (0,), score=None, exit_code=1)
    node, buggy = aide_journal(fold(h.events))["nodes"]
    assert node["metric"] == {"value": 0.4, "maximize": True}
    assert buggy["_term_out"] == ["Traceback: boom"] and buggy["exc_type"] == "ExitCode1"
    flipped = [msgspec.structs.replace(e, lower_is_better=True) if type(e).__name__ == "NodeScored" else e for e in h.events]
    assert aide_journal(fold(flipped))["nodes"][0]["metric"]["maximize"] is False


def test_exception_names_from_tracebacks():
    assert exception_name(TRACEBACK) == "ValueError"
    assert exception_name("x\nsklearn.exceptions.NotFittedError: not fitted\n") == "NotFittedError"
    assert exception_name("KeyboardInterrupt\n") == "KeyboardInterrupt"
    assert exception_name("Killed\n") is None and exception_name("") is None


def test_exc_type_approximations():
    from airad.events.fold import Node

    base = Node(0, "draft", (), 0.0, status="scored", exit_code=0)
    assert exc_type(base) is None
    assert exc_type(Node(0, "draft", (), 0.0, exit_code=1, stderr_tail=TRACEBACK)) == "ValueError"
    assert exc_type(Node(0, "draft", (), 0.0, exit_code=3, stderr_tail="segfault")) == "ExitCode3"
    assert exc_type(Node(0, "draft", (), 0.0, exit_code=None, timed_out=True)) == "TimeoutError"
    assert exc_type(Node(0, "draft", (), 0.0, exit_code=137, oom=True)) == "MemoryError"
    assert exc_type(Node(0, "draft", (), 0.0, exit_code=-9, killed="cancelled")) == "Killed"


async def test_tree_page_has_one_element_per_node_and_no_network():
    files, state = await _files()
    page = files["tree.html"]
    ids = re.findall(r'data-node-id="(\d+)"', page)
    assert sorted(ids) == ["0", "1", "2", "3"]
    assert 'data-node-id="0" data-operator="draft" data-status="valid" data-score="0.93"' in page
    assert 'data-node-id="1" data-operator="debug" data-status="buggy" data-score="-"' in page
    assert 'data-node-id="3" data-operator="crossover" data-status="failed"' in page
    assert "+#2" in page, "a crossover names its other parent"
    assert not re.search(r"(src|href)=\"?(https?:)?//", page), "nothing is fetched from the network"
    assert "</script><script>alert(1)" not in page, "code is embedded as escaped JSON"


def test_tree_page_of_a_deep_chain_needs_no_recursion():
    from tests.factories import History

    h = History().node(0, "draft")
    for node_id in range(1, 1500):
        h.node(node_id, "improve", (node_id - 1,))
    page = render_tree(fold(h.events))
    assert len(re.findall(r'data-node-id="\d+"', page)) == 1500 and page.count("<ul>") == 1499
