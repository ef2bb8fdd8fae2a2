"""sgnet-bench-latency in a tiny configuration: real node, player and recorder processes."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

from sgnet_ros.benchmarks import latency_benchmark

ROOT = Path(__file__).resolve().parents[1]


def balanced(ledger: dict[str, str]) -> bool:
    dropped = sum(int(v) for k, v in ledger.items() if k.startswith("dropped "))
    return int(ledger["frames processed"]) + dropped + int(ledger["frames pending sync"]) + \
        int(ledger["frames in pipeline"]) == int(ledger["frames received"])


def test_serial_and_pipelined_rows_come_from_one_run_and_reach_the_readme(tmp_path, capsys):
    readme = tmp_path / "README.md"
    shutil.copy(ROOT / "README.md", readme)
    assert latency_benchmark.main([
        "--duration", "4", "--settle", "1", "--configurations", "0", "3",
        "--direct-frames", "6", "--out", str(tmp_path), "--readme", str(readme)]) == 0
    result = json.loads((tmp_path / "latency.json").read_text())
    serial, pipelined = result["rows"]
    assert (serial["pipelined"], serial["transport"]) == (False, "default")
    assert (pipelined["pipelined"], pipelined["transport"]) == (True, "configured")
    for row in (serial, pipelined):
        assert row["sent"] >= 100 and row["rate_hz"] > 0, row
        assert math.isfinite(row["p50_ms"]) and row["max_ms"] >= row["p95_ms"] >= row["p50_ms"]
        assert balanced(row["ledger"]), row["ledger"]
        assert int(row["ledger"]["frames processed"]) > 0
    waits = pipelined["segments_p50_ms"]
    assert all(math.isfinite(waits[f"queue {s}"]) for s in ("decode", "inference", "outputs"))
    assert math.isfinite(serial["segments_p50_ms"]["queue serial"])
    # The floor's inputs: each stage thread's CPU from the node's diagnostics, and the CPU
    # the node, player and recorder processes spent while the player played.
    cpu = pipelined["cpu"]
    assert len(cpu["stage_cpu_p50_ms"]) == 3 and all(ms > 0 for ms in cpu["stage_cpu_p50_ms"])
    assert all(0 < cpu[k] <= cpu["cores"] for k in ("node_cores", "player_cores",
                                                    "recorder_cores")), cpu
    # One window for all four: the whole machine was at least as busy as these three.
    three = cpu["node_cores"] + cpu["player_cores"] + cpu["recorder_cores"]
    assert cpu["machine_cores"] >= three - 0.05, cpu
    assert cpu["max_hz_slowest_stage"] > 0 and cpu["max_hz_cores"] > 0, cpu
    unloaded = result["direct"]["unloaded"]
    assert unloaded["wall_p50_ms"]["frame"] >= max(unloaded["wall_p50_ms"][s] for s in (
        "decode", "inference", "outputs")) > 0
    direct = result["direct"]
    assert direct["serial_hz"] > 0 and direct["pipelined_hz"] > 0
    table = (tmp_path / "latency.md").read_text().strip()
    assert table in capsys.readouterr().out
    section = readme.read_text().split("<!-- latency:start -->")[1].split("<!-- latency:end -->")[0]
    assert section.strip() == table and result["hardware"] in section
