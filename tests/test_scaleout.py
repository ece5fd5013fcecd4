"""The scale-out set-up driven for real: PostgreSQL, Redis, 2 API and 2 worker processes.

Smaller counts than the bars in ``benchmarks/faults.py``, which runs the same scenarios. One
set-up serves the module; the API test stops the workers, so it runs last.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import scenarios
from scaleout import ScaleOut

pytestmark = [pytest.mark.scaleout, pytest.mark.timeout(480)]


@pytest.fixture(scope="module")
def set_up() -> Iterator[ScaleOut]:
    # a short heartbeat timeout keeps the test quick; the bar runs at the default
    with ScaleOut(broker="redis", env={"MOORAGE_JOB_HEARTBEAT_TIMEOUT_SECONDS": "10"}) as so:
        yield so


class TestWorkerKilled:
    def test_every_image_completes_once(self, set_up: ScaleOut) -> None:
        result = scenarios.kill_worker(set_up, images=100, deadline=90)
        print(result)
        assert result.done_at_kill < 100
        assert result.statuses == {"complete": 100}, result
        assert result.seconds_after_kill is not None
        assert result.duplicates == 0
        # the killed worker had a job in hand, and it was taken back and finished
        assert result.reclaimed >= 1


class TestApiKilled:
    def test_no_half_written_item(self, set_up: ScaleOut) -> None:
        set_up.stop_workers()  # the API has the machine to itself
        result = scenarios.kill_api(set_up, items=3000, phase="children")
        print(result)
        assert result.killed_during == "children"
        assert result.request_outcome.startswith("connection lost")
        assert result.half_written == 0, result.shapes
        assert result.present == 0  # one transaction: all or nothing
        assert result.other_api_answered
        # nothing of the killed request survived to block its retry
        assert (result.retry_registered, result.retry_blocked) == (3000, 0)
