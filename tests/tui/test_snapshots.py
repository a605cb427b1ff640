"""The replay view of each committed golden log at a few positions, against committed text snapshots
in tests/tui/snapshots/ (regenerate: `UPDATE_SNAPSHOTS=1 pytest tests/tui/test_snapshots.py`, then
review the diff)."""

import pytest

from airad.tui.app import AiradApp
from tests.replay.make_golden import POLICIES, load
from tests.tui.helpers import match_snapshot, settled_text

POSITIONS = {"event-12": lambda total: 12, "middle": lambda total: total // 2, "end": lambda total: total}


@pytest.mark.parametrize("name", list(POLICIES))
async def test_replay_view_matches_the_snapshots(name):
    events = load(name)
    app = AiradApp(events=events)
    async with app.run_test(size=(100, 30)) as pilot:
        for label, position in POSITIONS.items():
            app.screen.seek(position(len(events)))
            match_snapshot(f"{name}-{label}", await settled_text(pilot))
