"""`bench/serving.py` on its quick settings: the app serves drawings while runs train."""

from __future__ import annotations

import json

import pytest

from bench import serving

from ..conftest import SUBSET_DIR

pytestmark = pytest.mark.e2e


def test_serving_bench_draws_while_the_default_run_trains(sync_playwright_or_skip, tmp_path):
    args = ["--quick", "--data-dir", str(SUBSET_DIR), "--results-dir", str(tmp_path)]
    assert serving.main(args) == 0
    result = json.loads((tmp_path / "serving.json").read_text())
    for phase in ("idle", "training", "load"):
        figures = result[phase]
        assert figures["drawings"] >= 1
        assert 0 < figures["read"]["p50_ms"] <= figures["read"]["p95_ms"]
        assert figures["read"]["p50_ms"] < figures["stroke_to_bars"]["p50_ms"]
    # every visitor's every drawing got its bars
    assert result["load"]["drawings"] == result["load"]["sessions"] * 2
    for phase in ("alone", "training"):
        run = result[phase]["default_run"]
        assert run["architecture"] == "fast-cnn" and 0 < run["test_accuracy"] <= 1
        assert run["wall_s"] > 0
    for phase in ("training", "load"):
        for kind in ("server", "training", "browsers"):
            assert 0 <= result[phase][f"{kind}_cpu_s_per_s"] <= 2.5  # 2 cores, some slack
    assert result["training"]["training_cpu_s_per_s"] > 0  # the run's process was counted
