"""The fleet report: every bag's figures (those of its single replay) and the pooled ones.

Pooled percentiles come from all per-frame samples, pooled IoU from the summed confusion
matrices, so a fleet is scored as one long bag would be, not as a mean of means.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sgnet_ros.training.metrics import per_class_iou

PERCENTILES = (50, 95, 99)


def percentile_summary(samples: list[float]) -> dict[str, float]:
    """p50/p95/p99 of samples (NaN when there are none)."""
    if not samples:
        return {f"p{q}": float("nan") for q in PERCENTILES}
    values = np.percentile(np.asarray(samples, dtype=float), PERCENTILES)
    return {f"p{q}": float(v) for q, v in zip(PERCENTILES, values, strict=True)}


def iou_summary(confusion: np.ndarray | None, class_names: list[str]) -> dict | None:
    """mIoU and per-class IoU over the classes present (as sgnet-replay scores a bag)."""
    if confusion is None:
        return None
    iou = per_class_iou(np.asarray(confusion))
    present = {class_names[i]: float(v) for i, v in enumerate(iou) if not np.isnan(v)}
    return {"miou": float(np.mean(list(present.values()))) if present else float("nan"),
            "per_class_iou": present}


def pixel_share(class_pixels: np.ndarray, class_names: list[str]) -> dict[str, float]:
    """Share of all label pixels per class (and unlabeled), classes that occur only."""
    total = int(class_pixels.sum())
    names = [*class_names, "(unlabeled)"]
    return {names[i]: int(count) / total for i, count in enumerate(class_pixels)
            if count and total}


@dataclass
class FleetReport:
    """Results of a run, in job order, and how the run went."""

    model: str
    cluster: str
    results: list[dict] = field(default_factory=list)
    not_run: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)  # complete before this run, not redone
    interrupted: bool = False
    wall_s: float = 0.0

    def done(self) -> list[dict]:
        return [r for r in self.results if r["status"] == "done"]

    def failed(self) -> list[dict]:
        return [r for r in self.results if r["status"] == "failed"]

    def bag_summary(self, result: dict) -> dict:
        report = result["report"]
        return {
            "name": result["name"], "bag": result["bag"], "status": "done",
            "frames_in": report["frames_in"], "synced": report["synced"],
            "published": report["published"], "dropped": report["dropped"],
            "latency_ms": percentile_summary(result["latency_samples_ms"]),
            "stage_ms": {stage: percentile_summary(samples)
                         for stage, samples in result["stage_samples_ms"].items()},
            "pixel_share": pixel_share(np.asarray(result["class_pixels"]),
                                       result["class_names"]),
            "accuracy": report["accuracy"], "label_sha256": result["label_sha256"],
            "attempts": result["attempts"], "seconds": result["seconds"],
            "resumed": result["name"] in self.resumed,
        }

    def pooled(self) -> dict:
        done = self.done()
        if not done:
            return {}
        names = done[0]["class_names"]
        dropped: Counter[str] = Counter()
        stages: dict[str, list[float]] = {}
        latency: list[float] = []
        pixels = np.zeros(len(names) + 1, dtype=np.int64)
        confusion = None
        for result in done:
            dropped.update(result["report"]["dropped"])
            latency += result["latency_samples_ms"]
            for stage, samples in result["stage_samples_ms"].items():
                stages.setdefault(stage, []).extend(samples)
            pixels += np.asarray(result["class_pixels"])
            if result["confusion"] is not None:
                matrix = np.asarray(result["confusion"])
                confusion = matrix if confusion is None else confusion + matrix
        return {
            "bags": len(done),
            **{key: sum(r["report"][key] for r in done)
               for key in ("frames_in", "synced", "published")},
            "dropped": dict(sorted(dropped.items())),
            "latency_ms": percentile_summary(latency),
            "stage_ms": {stage: percentile_summary(s) for stage, s in stages.items()},
            "pixel_share": pixel_share(pixels, names),
            "accuracy": iou_summary(confusion, names),
        }

    def as_dict(self) -> dict:
        return {
            "model": self.model, "cluster": self.cluster, "wall_s": self.wall_s,
            "interrupted": self.interrupted,
            "bags": [self.bag_summary(r) for r in self.done()],
            "failed": [{"name": r["name"], "bag": r["bag"], "error": r["error"],
                        "attempts": r["attempts"]} for r in self.failed()],
            "not_run": self.not_run,
            "pooled": self.pooled(),
        }

    def summary_lines(self) -> list[str]:
        lines = [f"{len(self.done())} bag(s) done ({len(self.resumed)} from earlier runs), "
                 f"{len(self.failed())} failed, {len(self.not_run)} not run; "
                 f"wall {self.wall_s:.1f} s on {self.cluster}"]
        lines += [f"FAILED {r['name']} ({r['bag']}): {r['error']}" for r in self.failed()]
        if self.interrupted:
            lines.append("stopped by Ctrl-C; finished: "
                         + (", ".join(r["name"] for r in self.done()) or "none")
                         + "; not run: " + (", ".join(self.not_run) or "none"))
        return lines

    def markdown(self) -> str:
        data = self.as_dict()
        out = [f"# Fleet report: {len(data['bags'])} bag(s)", "",
               f"Model: {self.model}; cluster: {self.cluster}; wall time {self.wall_s:.1f} s.",
               "", *[f"    {line}" for line in self.summary_lines()], "",
               "## Per bag", "",
               "| bag | frames | published | dropped | latency p50 / p95 / p99 ms | "
               "spatial p50 | inference p50 | outputs p50 | mIoU | attempts | label sha256 |",
               "|---|---:|---:|---|---|---:|---:|---:|---:|---:|---|"]
        rows = list(data["bags"])
        if data["pooled"]:
            rows.append({"name": "**pooled**", **data["pooled"], "attempts": "",
                         "label_sha256": ""})
        for row in rows:
            latency, stages, accuracy = row["latency_ms"], row["stage_ms"], row["accuracy"]
            stage_cells = " | ".join(f"{stages.get(s, {}).get('p50', float('nan')):.1f}"
                                     for s in ("spatial", "inference", "outputs"))
            miou = f"{accuracy['miou']:.3f}" if accuracy else "n/a"
            out.append(
                f"| {row['name']} | {row['frames_in']} | {row['published']} | "
                f"{format_drops(row['dropped'])} | {latency['p50']:.1f} / {latency['p95']:.1f}"
                f" / {latency['p99']:.1f} | {stage_cells} | {miou} | {row['attempts']} | "
                f"{row['label_sha256'][:16]} |")
        if data["failed"]:
            out += ["", "## Failed", "", "| bag | error | attempts |", "|---|---|---:|"]
            out += [f"| {f['name']} | {f['error']} | {f['attempts']} |" for f in data["failed"]]
        if data["pooled"]:
            out += ["", "## Label statistics (pooled pixel share) and IoU", "",
                    "| class | pixel share | pooled IoU |", "|---|---:|---:|"]
            ious = (data["pooled"]["accuracy"] or {}).get("per_class_iou", {})
            for name, share in sorted(data["pooled"]["pixel_share"].items(),
                                      key=lambda item: -item[1]):
                iou = f"{ious[name]:.3f}" if name in ious else "n/a"
                out.append(f"| {name} | {share:.4f} | {iou} |")
        out += ["", "Plots: `latency_per_bag.png`, `miou_per_bag.png`; previews: "
                "`contact_sheet.png`; per bag: `bags/<name>/`."]
        return "\n".join(out) + "\n"

    def write(self, out_dir: Path) -> None:
        """fleet_report.json and fleet_report.md in out_dir."""
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "fleet_report.json").write_text(json.dumps(self.as_dict(), indent=2))
        (out_dir / "fleet_report.md").write_text(self.markdown())


def format_drops(dropped: dict[str, int]) -> str:
    return ", ".join(f"{reason} {count}" for reason, count in sorted(dropped.items())) or "0"
