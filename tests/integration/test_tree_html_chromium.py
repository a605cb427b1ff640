"""The exported tree page in a real browser: every node is in the DOM after the scripts ran, and the detail panel works."""

import pytest

from airad.reports.aide_export import export_aide
from tests.export_fixtures import HOSTILE_CODE, stored_run
from tests.infra.chromium import dump_dom, read_dom

pytestmark = pytest.mark.integration


@pytest.fixture
async def tree_page(tmp_path):
    log, blobs, _ = await stored_run()
    page = tmp_path / "tree.html"
    page.write_text((await export_aide(log, blobs, "r1"))["tree.html"])
    return page


def test_every_node_is_drawn_and_the_chosen_node_is_shown(tree_page, tmp_path):
    dom = read_dom(dump_dom(tree_page, tmp_path / "profile"))
    assert [n["data-node-id"] for n in dom.nodes] == ["0", "1", "2", "3"]
    by_id = {n["data-node-id"]: n for n in dom.nodes}
    assert by_id["0"]["data-status"] == "valid" and by_id["0"]["data-score"] == "0.93" and "best" in by_id["0"]["class"]
    assert by_id["1"]["data-status"] == "buggy" and by_id["3"]["data-operator"] == "crossover"
    assert dom.by_id["details"]["data-shown-node"] == "0", "the script ran and showed the chosen node"
    assert "selected" in by_id["0"]["class"]
    assert dom.text["detail-plan"] == "draft plan: a random forest"
    assert "review" not in dom.text["detail-code"] and "import sklearn" in dom.text["detail-code"]


def test_a_fragment_opens_that_node_and_hostile_code_stays_text(tree_page, tmp_path):
    dom = read_dom(dump_dom(tree_page, tmp_path / "profile", fragment="node-2"))
    assert dom.by_id["details"]["data-shown-node"] == "2"
    assert dom.text["detail-code"] == HOSTILE_CODE
    assert len(dom.nodes) == 4, "the code's </script> did not break the page"
    assert "parents #0" in dom.text["detail-meta"] and "0.91" in dom.text["detail-meta"]
