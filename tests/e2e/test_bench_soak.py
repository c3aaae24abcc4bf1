"""`bench/soak.py` on small settings: sessions at once lose nothing and see only their own."""

from __future__ import annotations

import json

import pytest

from bench import soak

from ..conftest import SUBSET_DIR

pytestmark = pytest.mark.e2e


def test_soak_bench_loses_nothing_and_crosses_nothing(sync_playwright_or_skip, tmp_path):
    args = ["--quick", "--sessions", "2", "--seconds", "25", "--max-runs", "2",
            "--data-dir", str(SUBSET_DIR), "--results-dir", str(tmp_path)]
    assert soak.main(args) == 0
    result = json.loads((tmp_path / "soak.json").read_text())
    for field in ("reads", "stroke_to_bars", "memory", "runs", "crossed", "target_met"):
        assert field in result
    assert result["reads"]["answered"] >= 1
    assert result["stroke_to_bars"] is None or result["stroke_to_bars"]["p50_ms"] > 0
    assert result["memory"]["idle_rss_mb"] > 0
    # idle is taken once each page was visited: never below the figure after one drawing
    assert 0 < result["memory"]["after_drawing_rss_mb"] <= result["memory"]["idle_rss_mb"] + 5
    assert result["memory"]["peak_rss_mb"] >= result["memory"]["idle_rss_mb"] * 0.5
    runs = result["runs"]
    assert runs["submitted"] == 2
    assert runs["lost"] == 0
    assert runs["finished"] + runs["failed"] + runs["stopped"] + runs["still_active"] == 2
    assert result["crossed"] == 0
    assert result["train_page_looks"] >= 2  # every session looks at the end
