"""Pure decoding of what engines send: multiplexed log frames split anywhere, Docker times."""

from __future__ import annotations

import struct

from backends.docker.actions import _data_changes, _LineSplitter, demultiplex
from backends.docker.inventory import cpu_and_memory, parse_time


def _frame(stream: int, data: bytes) -> bytes:
    return bytes([stream, 0, 0, 0]) + struct.pack(">I", len(data)) + data


def test_frames_and_lines_survive_any_split_of_the_stream():
    stream = _frame(1, b"2024-01-02T03:04:05.123456789Z hel") + _frame(2, b"2024-01-02T03:04:06Z oops\n") + _frame(
        1, b"lo\n2024-01-02T03:04:07Z second\n"
    )
    for cut in range(1, len(stream)):
        state: dict = {}
        splitters = {1: _LineSplitter("stdout"), 2: _LineSplitter("stderr")}
        lines = []
        for chunk in (stream[:cut], stream[cut:]):
            for kind, data in demultiplex([chunk], state):
                lines += splitters[kind].feed(data)
        assert [(l.stream, l.text) for l in lines] == [("stderr", "oops"), ("stdout", "hello"), ("stdout", "second")]
        assert lines[1].time == parse_time("2024-01-02T03:04:05.123456789Z")


def test_docker_times():
    assert parse_time("0001-01-01T00:00:00Z") is None
    assert parse_time("2024-01-02T03:04:05Z") == 1704164645.0
    assert abs(parse_time("2024-01-02T03:04:05.5+01:00") - (1704164645.5 - 3600)) < 1e-6


def test_cpu_percent_is_of_one_core_as_docker_stats_reports_it():
    sample = {
        "cpu_stats": {"cpu_usage": {"total_usage": 3_000}, "system_cpu_usage": 10_000, "online_cpus": 4},
        "precpu_stats": {"cpu_usage": {"total_usage": 1_000}, "system_cpu_usage": 6_000},
        "memory_stats": {"usage": 300 * 2**20, "limit": 1024 * 2**20, "stats": {"inactive_file": 100 * 2**20}},
    }
    assert cpu_and_memory(sample) == (200.0, 200.0, 1024.0)


def test_engine_made_files_are_not_data_but_written_files_are():
    changes = [
        {"Path": "/data", "Kind": 1},
        {"Path": "/etc", "Kind": 0},
        {"Path": "/etc/hosts", "Kind": 1},
        {"Path": "/tmp", "Kind": 0},
        {"Path": "/tmp/state", "Kind": 1},
    ]
    assert [c["Path"] for c in _data_changes(changes, {"/data"})] == ["/tmp", "/tmp/state"]
    assert _data_changes(changes[:3], {"/data"}) == []
