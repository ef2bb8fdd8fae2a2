"""Which bags a fleet run covers and where each one's results live.

Each bag's results are written into a hidden partial folder and renamed to their final
name only once complete, so a worker killed mid-bag (and retried) or a stopped run never
leaves a half-written result that `--resume` would mistake for a finished one.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

RESULT_FILE = "fleet_result.json"  # written last inside the partial folder: marks completion
OUTPUT_BAG = "segmentation_bag"


@dataclass(frozen=True)
class BagJob:
    """One input bag and the name of its results folder under the run's bags/ folder."""

    bag: Path
    name: str


def is_bag(path: Path) -> bool:
    """A rosbag2 directory (what `ros2 bag record` writes): it holds metadata.yaml."""
    return path.is_dir() and (path / "metadata.yaml").is_file()


def find_bags(sources: list[Path]) -> list[Path]:
    """Bags named by paths: a bag, a folder searched for bags, or a text file listing them.

    A list file holds one path per line (relative to the file; '#' starts a comment). A path
    that is no bag is kept, so that it is reported as failed instead of silently skipped.
    """
    bags: list[Path] = []
    for source in sources:
        if source.is_file():
            for line in source.read_text().splitlines():
                entry = line.split("#", 1)[0].strip()
                if entry:
                    path = Path(entry)
                    bags.append(path if path.is_absolute() else source.parent / path)
        elif source.is_dir() and not is_bag(source):
            bags.extend(sorted(path.parent for path in source.rglob("metadata.yaml")))
        else:
            bags.append(source)
    return bags


def name_jobs(bags: list[Path]) -> list[BagJob]:
    """One job per distinct bag, named after its folder; repeated names get a -2, -3 suffix."""
    jobs, taken, seen = [], set(), set()
    for bag in bags:
        resolved = bag.resolve()
        if resolved in seen:
            continue
        seen.add(resolved)
        name, suffix = bag.name or "bag", 2
        while name in taken:
            name, suffix = f"{bag.name}-{suffix}", suffix + 1
        taken.add(name)
        jobs.append(BagJob(bag, name))
    return jobs


def fleet_jobs(sources: list[Path], out: Path) -> list[BagJob]:
    """The jobs of a run: every bag found, except the output bags of a run in `out` itself."""
    out = out.resolve()
    return name_jobs([bag for bag in find_bags(sources) if out not in bag.resolve().parents])


def final_dir(bags_root: Path, job: BagJob) -> Path:
    return bags_root / job.name


def partial_dir(bags_root: Path, job: BagJob, attempt_id: str) -> Path:
    """A hidden folder of one attempt; renamed to `final_dir` when its result is complete."""
    return bags_root / f".{job.name}.partial-{attempt_id}"


def completed_result(bags_root: Path, job: BagJob) -> dict | None:
    """The stored result of a bag whose folder is complete, else None."""
    path = final_dir(bags_root, job) / RESULT_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def remove_partials(bags_root: Path, job: BagJob) -> int:
    """Delete the leftovers of earlier attempts at a bag (a killed worker's); returns how many."""
    leftovers = list(bags_root.glob(f".{job.name}.partial-*"))
    for leftover in leftovers:
        shutil.rmtree(leftover, ignore_errors=True)
    return len(leftovers)
