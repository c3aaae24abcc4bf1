"""`bench/evaluate_page.py` on three models: picks timed, the server's memory read."""

from __future__ import annotations

import json

import pytest

from bench import evaluate_page

from ..conftest import SUBSET_DIR

pytestmark = pytest.mark.e2e


def test_evaluate_page_bench_times_each_pick_and_reads_the_servers_memory(
        sync_playwright_or_skip, tmp_path):
    args = ["--quick", "--data-dir", str(SUBSET_DIR), "--results-dir", str(tmp_path)]
    assert evaluate_page.main(args) == 0
    result = json.loads((tmp_path / "evaluate_page.json").read_text())
    assert len(result["models"]) == 3
    picks = result["picks"]
    # each model picked once from a fresh server, then again; the default comes last
    assert [p["round"] for p in picks] == ["first"] * 4 + ["warm"] * 4
    assert {p["model"] for p in picks} == set(result["models"]) | {
        picks[3]["model"]}
    for p in picks:
        assert 0 < p["seconds"] <= p["run_ended_s"]
        assert 100 < p["rss_mb"] <= p["peak_rss_mb"]
    assert result["exceptions"] == 0
    assert result["summary"]["rss_mb_max"] == max(p["rss_mb"] for p in picks)
