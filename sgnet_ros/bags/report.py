"""The replay report: frame ledger, latency percentiles, accuracy, preview PNGs.

Both replay modes fill the same report so their summaries read alike and a regression
test can compare them; it is written as JSON (for machines) and Markdown (for people).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from sgnet_ros.ros.stats import percentiles


@dataclass
class ReplayReport:
    """What a replay did and measured."""

    mode: str
    bag: str
    model: str
    frames_in: int = 0  # colour frames in the bag
    received: int = 0  # colour frames that reached the pipeline (ros mode: the node)
    synced: int = 0
    processed: int = 0  # frames the pipeline (node) finished
    pending_at_end: int = 0  # received, still waiting for sync partners when the run ended
    published: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    latency_ms: list[float] = field(default_factory=list)
    stage_ms: dict[str, list[float]] = field(default_factory=dict)  # per-frame samples
    stage_percentiles_ms: dict[str, dict[str, float]] = field(default_factory=dict)  # or summaries
    outputs: dict[str, int] = field(default_factory=dict)
    recorder_loss: dict[str, tuple[int, int]] = field(default_factory=dict)  # published, kept
    accuracy: dict | None = None
    notes: list[str] = field(default_factory=list)

    def add_stage_times(self, timings: dict[str, float]) -> None:
        for stage, value in timings.items():
            self.stage_ms.setdefault(stage, []).append(value)

    def stage_summary(self) -> dict[str, dict[str, float]]:
        """p50/p95 per stage, from the samples or from summaries handed over by the node."""
        if self.stage_percentiles_ms:
            return self.stage_percentiles_ms
        return {stage: dict(zip(("p50", "p95"), percentiles(values), strict=True))
                for stage, values in self.stage_ms.items()}

    def latency_summary(self) -> dict[str, float]:
        p50, p95 = percentiles(self.latency_ms)
        return {"p50": p50, "p95": p95,
                "max": max(self.latency_ms) if self.latency_ms else float("nan")}

    def as_dict(self) -> dict:
        return {
            "mode": self.mode, "bag": self.bag, "model": self.model,
            "frames_in": self.frames_in, "received": self.received, "synced": self.synced,
            "processed": self.processed, "published": self.published,
            "pending_at_end": self.pending_at_end,
            "dropped": self.dropped, "latency_ms": self.latency_summary(),
            "stage_ms": self.stage_summary(),
            "outputs": self.outputs,
            "recorder_loss": {topic: {"published": published, "recorded": recorded}
                              for topic, (published, recorded) in self.recorder_loss.items()},
            "accuracy": self.accuracy, "notes": self.notes,
        }

    def summary_lines(self) -> list[str]:
        """The terminal summary."""
        latency = self.latency_summary()
        lines = [
            f"frames in {self.frames_in} / received {self.received} / synced {self.synced} / "
            f"published {self.published}"
            f" / dropped {sum(self.dropped.values())} "
            f"({', '.join(f'{k} {v}' for k, v in sorted(self.dropped.items())) or 'none'})",
            f"latency stamp->publish: p50 {latency['p50']:.1f} ms, p95 {latency['p95']:.1f} ms, "
            f"max {latency['max']:.1f} ms",
        ]
        for stage, summary in self.stage_summary().items():
            lines.append(f"  stage {stage:<10} p50 {summary['p50']:7.1f} ms  "
                         f"p95 {summary['p95']:7.1f} ms")
        lines.append(self.recorder_line())
        if self.accuracy:
            lines.append(f"mIoU {self.accuracy['miou']:.3f} over "
                         f"{len(self.accuracy['per_class_iou'])} classes present")
        lines.extend(self.notes)
        return lines

    def recorder_line(self) -> str:
        """Whether the output bag holds every message published, and per topic what not."""
        if self.recorder_loss:
            return "recorder LOST messages: " + ", ".join(
                f"{topic} {recorded} of {published}"
                for topic, (published, recorded) in sorted(self.recorder_loss.items()))
        per_frame = sum(1 for topic in self.outputs if not topic.endswith("label_info"))
        return (f"recorder loss: none ({self.published} frames x {per_frame} topics, "
                "all recorded)")

    def write(self, directory: Path) -> None:
        """report.json and report.md in `directory`."""
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "report.json").write_text(json.dumps(self.as_dict(), indent=2))
        markdown = [f"# Replay of {self.bag} ({self.mode} mode)", "", f"Model: {self.model}", ""]
        markdown += [f"    {line}" for line in self.summary_lines()]
        if self.accuracy:
            markdown += ["", "| class | IoU |", "|---|---|"]
            markdown += [f"| {name} | {iou:.3f} |"
                         for name, iou in self.accuracy["per_class_iou"].items()]
        (directory / "report.md").write_text("\n".join(markdown) + "\n")


def write_preview(directory: Path, index: int, rgb: np.ndarray, label_colours: np.ndarray,
                  overlay: np.ndarray) -> Path:
    """One PNG with input | label colours | overlay side by side; returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    panel = np.concatenate([rgb, label_colours, overlay], axis=1)
    path = directory / f"preview_{index:05d}.png"
    cv2.imwrite(str(path), cv2.cvtColor(panel, cv2.COLOR_RGB2BGR))
    return path


def report_dir(out_bag: Path) -> Path:
    """Where previews and the report of an output bag go: beside it, suffixed _report."""
    return out_bag.parent / f"{out_bag.name}_report"
