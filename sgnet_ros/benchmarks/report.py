"""What an `sgnet-bench` run says: the issue's targets judged from its rows, and its Markdown.

Kept apart from the measuring so that the verdicts are plain arithmetic over the saved rows
(the JSON holds them too) and the README section is exactly what was printed.
"""

from __future__ import annotations

import numpy as np

from sgnet_ros.pipeline.inference import PROVIDERS

CPU_TARGET_HZ = 10.0
GPU_TARGETS_P95_MS = {"default model": 8.0, "SGNet-R101": 25.0}
R101_VARIANTS = ("r101", "r101_fps")  # the same network; _fps only lacks the training head


def _verdict(target: str, measured: float | None, unit: str, met: bool | None,
             row: str | None = None, why: str = "") -> dict:
    return {"target": target, "measured": measured, "unit": unit, "row": row,
            "verdict": "not measured" if met is None else "met" if met else "not met",
            "why": why}


def targets(rows: list[dict], default_variant: str, cpu_cores: int | None,
            gpu_name: str | None) -> list[dict]:
    """Issue 9's targets against the rows that measure them, naming the hardware as it was.

    A target is only claimed for "2 CPU cores" or an "H100-class GPU" when this machine is
    one; otherwise the line says what the machine was.
    """
    cores = "2 CPU cores" if cpu_cores == 2 else f"{cpu_cores} CPU cores (the target is for 2)"
    label = f"{cores}, default model, 320x240: >= {CPU_TARGET_HZ:g} Hz end to end"
    small = next((r for r in rows
                  if r["frame_size"] == "320x240" and np.isfinite(r["throughput_hz"])), None)
    if small is None:
        verdicts = [_verdict(label, None, "Hz", None, why="no 320x240 row ran")]
    elif small["variant"] != default_variant:
        verdicts = [_verdict(label, None, "Hz", None, why=f"the model is {small['variant']!r}, "
                             f"not the default model's {default_variant!r}")]
    else:
        hz = small["throughput_hz"]
        verdicts = [_verdict(label, hz, "Hz", hz >= CPU_TARGET_HZ, small["name"])]

    gpu = "H100-class GPU"
    if gpu_name and "H100" not in gpu_name and "H200" not in gpu_name:
        gpu = f"GPU {gpu_name} (the target is for an H100-class GPU)"
    on_gpu = [r for r in rows if r["frame_size"] == "640x480" and r["network_on"]
              in (PROVIDERS["cuda"], PROVIDERS["tensorrt"])]
    for model, limit in GPU_TARGETS_P95_MS.items():
        label = f"{gpu}, {model}, 640x480: <= {limit:g} ms p95"
        variants = (default_variant,) if model == "default model" else R101_VARIANTS
        matching = [r for r in on_gpu if r["variant"] in variants]
        if not matching:
            why = "no GPU" if not gpu_name else "no row ran on CUDA or TensorRT" if not on_gpu \
                else f"the model is {on_gpu[0]['variant']!r}, not {model}"
            verdicts.append(_verdict(label, None, "ms p95", None, why=why))
            continue
        best = min(matching, key=lambda r: r["end_to_end_p95_ms"])
        p95 = best["end_to_end_p95_ms"]
        verdicts.append(_verdict(label, p95, "ms p95", p95 <= limit, best["name"]))
    return verdicts


def _cell(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def _memory_line(result: dict) -> str:
    if result["gpu_device_peak_mib"] is None:
        return f"Peak RSS {result['peak_rss_mib']:.0f} MiB; GPU memory: not measured (no GPU)."
    return (f"Peak RSS {result['peak_rss_mib']:.0f} MiB; GPU: torch allocator peak "
            f"{result['gpu_peak_mib']:.0f} MiB, device-wide used peak "
            f"{result['gpu_device_peak_mib']:.0f} MiB (total - free, polled before and after "
            "each CUDA row; counts ONNX Runtime's arena, which the torch figure cannot see, "
            "and any other process on the GPU).")


def _hha_table(hha: dict) -> list[str]:
    lines = [f"HHA of one {hha['frame_size']} frame ({hha['frame']}), {hha['repeats']} "
             f"repeats; reference port: {hha['port_source']}.", "",
             "| HHA encoder | p50 ms | p95 ms | port time / this | note |",
             "|---|---:|---:|---:|---|"]
    for row in hha["rows"]:
        lines.append(f"| {row['name']} | {_cell(row['p50_ms'])} | {_cell(row['p95_ms'])} | "
                     f"{_cell(row['port_over_this'])} | {row['note']} |")
    return lines


def markdown(result: dict) -> str:
    """The printed report, benchmark.md and the README's performance section, all one text."""
    lines = [
        f"Hardware: {result['hardware']}; {result['date']}; model {result['model']}; "
        f"{result['frames']} frames of {result['frame_size']} from the sample bag (the 320x240 "
        "row: the same frames halved); every class cloud and the organized cloud built.", "",
        "| configuration | frames | end-to-end p50 ms | p95 ms | Hz | spatial p50 | "
        "inference p50 | outputs p50 | start-up s | vs eager CPU | note |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for row in result["rows"]:
        lines.append(
            f"| {row['name']} | {row['frame_size']} | {_cell(row['end_to_end_p50_ms'])} | "
            f"{_cell(row['end_to_end_p95_ms'])} | {_cell(row['throughput_hz'])} | "
            f"{_cell(row['spatial_p50_ms'])} | {_cell(row['inference_p50_ms'])} | "
            f"{_cell(row['outputs_p50_ms'])} | {_cell(row['startup_s'], 2)} | "
            f"{_cell(row['ratio_vs_eager_cpu'], 2)} | {row['note']} |")
    lines += ["", _memory_line(result), "", "Targets:", ""]
    for target in result["targets"]:
        outcome = f"not measured ({target['why']})" if target["measured"] is None else \
            f"measured {target['measured']:.1f} {target['unit']} ({target['verdict']})"
        lines.append(f"- {target['target']} -> {outcome}")
    if result["hha"] is None:
        return "\n".join(lines + ["", "HHA table: skipped (it needs the source tree's "
                                   "test/data/hha; run sgnet-bench from a checkout)."])
    return "\n".join(lines + [""] + _hha_table(result["hha"]))
