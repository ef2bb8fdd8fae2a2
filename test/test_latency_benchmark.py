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
    direct = result["direct"]
    assert direct["serial_hz"] > 0 and direct["pipelined_hz"] > 0
    table = (tmp_path / "latency.md").read_text().strip()
    assert table in capsys.readouterr().out
    section = readme.read_text().split("<!-- latency:start -->")[1].split("<!-- latency:end -->")[0]
    assert section.strip() == table and result["hardware"] in section
