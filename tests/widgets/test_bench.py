"""The benchmark's own plumbing: a measured child process, and the verdicts it prints."""

from __future__ import annotations

import argparse

from console import bench


def test_empty_app_child_reports_its_first_frame():
    result = bench.run_child("empty", scale=0, idle_seconds=0, headless=True)
    assert 0 < result["first_frame_s"] < 30


def test_report_has_a_row_per_scale_and_budget_verdicts():
    args = argparse.Namespace(scales="10000", idle_seconds=30.0, headless=True, no_pages=False)
    run = {
        "scale": 10_000, "first_frame_s": 0.5, "settle_s": 0.3,
        "timeline": {
            "imported": 0.2, "connecting": 0.25, "connected": 0.35, "snapshot_taken": 0.36,
            "rows_set": 0.4, "first_frame": 0.5,
        }, "tick_changes": 500, "tick_table_ms": 2.0, "tick_apply_ms": 20.0,
        "tick_frame_ms": 40.0, "cursor_ms": 16.0, "cursor_max_ms": 20.0, "filter_ms": 30.0,
        "filter_max_ms": 50.0, "rss_mib": 60.0, "idle_cpu_percent": 1.0, "idle_seconds": 30.0,
        "idle_frames": 0,
    }  # fmt: skip
    text = bench.report([{"first_frame_s": 0.4}], [run], args)
    assert "| 10,000 | 500 ms | 1.2x | 20.0 ms (500 rows) |" in text
    assert "- PASS: first frame at 10,000: 1.2x the empty app" in text
    assert "- FAIL: 5% tick at 10,000: 20.0 ms" in text
    assert "- PASS: idle CPU at 10,000" in text and "- PASS: RSS at 10,000: 60 MiB" in text
    assert "headless" in text
    assert "simulator world 0.10" in text and "layout and first paint 0.10" in text


def test_the_cli_list_is_measured_in_its_own_process():
    result = bench.run_cli(200)
    assert result["cli_s"] > 0 and result["cli_peak_rss_mib"] > 10 and result["cli_bytes"] > 200 * 100


def test_report_gives_the_large_scale_verdicts_and_the_cli():
    args = argparse.Namespace(scales="100000", idle_seconds=10.0, headless=False, no_pages=False)
    run = {
        "scale": 100_000, "first_frame_s": 2.0, "settle_s": 0.0,
        "timeline": {
            "imported": 0.2, "connecting": 0.25, "connected": 1.35, "snapshot_taken": 1.36,
            "rows_set": 1.5, "first_frame": 2.0,
        }, "tick_changes": 5000, "tick_table_ms": 5.0, "tick_apply_ms": 12.0,
        "tick_frame_ms": 25.0, "cursor_ms": 16.0, "cursor_max_ms": 20.0, "filter_ms": 30.0,
        "filter_max_ms": 60.0, "filter_done_ms": 2000.0, "sort_ms": 11.0, "sort_done_ms": 400.0,
        "rss_mib": 190.0, "idle_cpu_percent": 0.3, "idle_seconds": 10.0, "idle_frames": 0,
        "cli_s": 2.5, "cli_peak_rss_mib": 160.0,
    }  # fmt: skip
    text = bench.report([{"first_frame_s": 0.3}], [run], args)
    assert "| 30.0 ms (max 60.0) | 2000 ms | 11.0 ms (400 ms) | 190 MiB |" in text
    assert "| 2.50 s, 160 MiB |" in text
    assert "- PASS: filter key to frame at 100,000: 30.0 ms" in text
    assert "- FAIL: filter key to frame at 100,000, max: 60.0 ms" in text
    assert "- PASS: 5% tick to frame at 100,000: 25.0 ms" in text
    assert "- FAIL: containers list --json at 100,000: 2.50 s" in text
