"""Models side by side: the tables and the shipping plot of models/README.md, from
`sgnet-eval --json` results.

    python -m sgnet_ros.training.compare table "today's model=shipped_real.json" \\
        "candidate=candidate_real.json"
    python -m sgnet_ros.training.compare plot --real "today's model=shipped_real.json" \\
        --synthetic "today's model=shipped_basic.json" ... --min-synthetic 0.75 --out PNG

The first model is the reference: its evaluated classes are the common ground every model is
also averaged over (models trained on more classes get a mean over their own as well), and
the plot's shipping region is "synthetic mean >= --min-synthetic and real mean above the
reference's", both over the reference's classes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sgnet_ros.pipeline import nyu40


def load_results(pairs: list[str]) -> dict[str, dict]:
    """'LABEL=PATH' pairs -> {label: the sgnet-eval JSON}, in the order given."""
    results = {}
    for pair in pairs:
        label, separator, path = pair.partition("=")
        if not separator or not label:
            raise SystemExit(f"compare: expected LABEL=PATH, got {pair!r}")
        results[label] = json.loads(Path(path).read_text())
    return results


def reference_classes(results: dict[str, dict]) -> list[str]:
    """The classes the first result's mean is over: what every model is compared over (real
    frames list them by id in `classes_in_mean`; synthetic results only hold those)."""
    first = next(iter(results.values()))
    names = list(first["iou"])
    if "classes_in_mean" in first:
        names = [nyu40.CLASS_NAMES[class_id] for class_id in first["classes_in_mean"]]
    return [name for name in names if first["iou"].get(name) is not None]


def reference_mean(result: dict, classes: list[str]) -> float:
    """Mean IoU over `classes` (a class the model never predicted nor saw counts 0)."""
    values = [result["iou"].get(name) or 0.0 for name in classes]
    return sum(values) / len(values)


def markdown_table(results: dict[str, dict]) -> str:
    """Per-class IoU, each model's own mean, the mean over the reference's classes, accuracy."""
    labels = list(results)
    classes = []
    for result in results.values():
        classes += [name for name in result["iou"] if name not in classes]
    common = reference_classes(results)

    def cell(result: dict, name: str) -> str:
        if name not in result["iou"]:
            return "—"
        iou = result["iou"][name]
        return "n/a" if iou is None else f"{iou:.3f}"

    lines = ["| class | " + " | ".join(labels) + " |", "|---|" + "---:|" * len(labels)]
    lines += [f"| {name} | " + " | ".join(cell(r, name) for r in results.values()) + " |"
              for name in classes]
    lines.append("| **mIoU (each model's trained classes)** | "
                 + " | ".join(f"**{r['miou']:.3f}**" for r in results.values()) + " |")
    lines.append(f"| mIoU over {labels[0]}'s {len(common)} classes | "
                 + " | ".join(f"{reference_mean(r, common):.3f}" for r in results.values())
                 + " |")
    lines.append("| pixel accuracy | "
                 + " | ".join(f"{r['pixel_accuracy']:.3f}" for r in results.values()) + " |")
    return "\n".join(lines)


def shipping_plot(real: dict[str, dict], synthetic: dict[str, dict], min_synthetic: float,
                  out: Path) -> None:
    """Real against synthetic mean (reference classes), with the region a model must reach."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if list(real) != list(synthetic):
        raise SystemExit("compare: --real and --synthetic must name the same models in order")
    real_classes, synthetic_classes = reference_classes(real), reference_classes(synthetic)
    points = {label: (reference_mean(synthetic[label], synthetic_classes),
                      reference_mean(real[label], real_classes)) for label in real}
    reference_real = next(iter(points.values()))[1]
    top = max(0.6, max(y for _, y in points.values()) + 0.05)
    figure, axes = plt.subplots(figsize=(6.4, 4.4))
    axes.fill_between([min_synthetic, 1.0], reference_real, top, color="#d8f0d8", zorder=0)
    axes.axhline(reference_real, color="grey", linestyle="--", linewidth=1)
    axes.axvline(min_synthetic, color="grey", linestyle="--", linewidth=1)
    for index, (label, (x, y)) in enumerate(points.items()):
        axes.scatter(x, y, zorder=2)
        # Labels alternate above and below their points, so neighbours stay readable.
        axes.annotate(label, (x, y), textcoords="offset points",
                      xytext=(5, 4 if index % 2 == 0 else -11), fontsize=8)
    axes.text(0.99, top - 0.01, "ships", fontsize=9, color="darkgreen", ha="right", va="top")
    axes.set_xlabel(f"held-out synthetic mIoU ({len(synthetic_classes)} classes)")
    axes.set_ylabel(f"annotated real frames mIoU ({len(real_classes)} classes)")
    axes.set_xlim(0.0, 1.0)
    axes.set_ylim(0.0, top)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sgnet_ros.training.compare",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    table = commands.add_parser("table", help="markdown table of several models' results")
    table.add_argument("results", nargs="+", metavar="LABEL=JSON")
    plot = commands.add_parser("plot", help="real against synthetic mean, the shipping region")
    plot.add_argument("--real", nargs="+", required=True, metavar="LABEL=JSON")
    plot.add_argument("--synthetic", nargs="+", required=True, metavar="LABEL=JSON")
    plot.add_argument("--min-synthetic", type=float, default=0.75)
    plot.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "table":
        print(markdown_table(load_results(args.results)))
    else:
        shipping_plot(load_results(args.real), load_results(args.synthetic),
                      args.min_synthetic, args.out)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
