"""The pipeline benchmark and the soak run in a tiny configuration, so they cannot rot."""

import json

from sgnet_ros import benchmark
from sgnet_ros.benchmarks import soak


def test_pipeline_benchmark_prints_and_saves_every_row(tmp_path, capsys):
    assert benchmark.main(["--quick", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    result = json.loads((tmp_path / "benchmark.json").read_text())
    names = [row["name"] for row in result["rows"]]
    assert names[:2] == ["ONNX Runtime CPU, IO binding on", "ONNX Runtime CPU, IO binding off"]
    assert any(name.startswith("PyTorch eager (cpu)") for name in names)
    cpu = result["rows"][0]
    assert cpu["end_to_end_p50_ms"] > 0 and cpu["throughput_hz"] > 0
    assert cpu["spatial_p50_ms"] + cpu["inference_p50_ms"] + cpu["outputs_p50_ms"] <= \
        cpu["end_to_end_p95_ms"] * 1.05
    anchor = next(r for r in result["rows"] if r["name"].startswith("PyTorch eager (cpu)"))
    assert anchor["ratio_vs_eager_cpu"] == 1.0
    assert result["frame_size"] == "640x480" and result["hardware"]
    assert (tmp_path / "benchmark.md").read_text().strip() in printed


def test_soak_reports_memory_before_and_after(capsys):
    soak.main(["--frames", "12", "--warmup", "4", "--sample-every", "4"])
    table = capsys.readouterr().out
    row = next(line for line in table.splitlines() if line.startswith("| 12 |"))
    warm, final = (float(cell) for cell in row.split("|")[2:4])
    assert warm > 100 and final > 100  # torch + onnxruntime alone exceed 100 MiB


def test_network_and_hha_benchmarks_run_in_their_quick_configuration():
    import subprocess
    import sys

    for module, expected in (("sgnet_ros.benchmarks.network_benchmark", "S-Conv, one grid_sample"),
                             ("sgnet_ros.benchmarks.hha_benchmark", "hha")):
        result = subprocess.run([sys.executable, "-m", module, "--quick"], capture_output=True,
                                text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
        assert expected in result.stdout
