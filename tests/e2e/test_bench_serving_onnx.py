"""`bench/serving_onnx.py`'s browser part: a real `streamlit run` drawn on in Chromium."""

from __future__ import annotations

import asyncio

import pytest

from bench import serving_onnx

pytestmark = pytest.mark.e2e


def test_cold_start_and_pen_up_to_bars_first_and_later(sync_playwright_or_skip, tmp_path):
    result = asyncio.run(serving_onnx.real_server(tmp_path))
    assert 0 < result["seconds_launch_to_healthy"] < result["seconds_launch_to_first_bars"]
    assert result["tensorflow_libraries_mapped"] == 0  # the web server reads with ONNX
    assert 0 < result["server"]["rss_mb"] <= result["server"]["peak_rss_mb"]
    assert result["first_read_ms"] > 0
    later = result["pen_up_to_bars_later_ms"]
    assert later["n"] == serving_onnx.LATER_DRAWINGS
    assert 0 < later["min_ms"] <= later["p50_ms"] <= later["p95_ms"]
    assert result["pen_up_to_bars_first_ms"] > 0
    visits = result["evaluate_open_s"]
    assert visits["first"] > 0 and len(visits["warm"]) == serving_onnx.EVALUATE_VISITS - 1
