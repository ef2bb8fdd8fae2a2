"""Zombie Fast DDS shared-memory files: find them by their locks and remove them.

Fast DDS keeps each participant's shared-memory segment (64 MB with
config/fastdds_loopback.xml) in /dev/shm as `fastdds_<16 hex>`, next to an `_el` lock file
that its owner holds with flock while alive; a port (`fastdds_port<N>`) has `_el`/`_sl`
locks and a `sem.fastdds_port<N>_mutex`. A participant that ends without being destroyed
(SIGKILL, a crash) leaves them behind with nobody holding the lock, and Fast DDS 3.2 never
reclaims such a segment: the RAM stays taken until reboot. Without the `fastdds` CLI (not in
the pip wheels) this module does what `fastdds shm clean` does: whatever the kernel still
holds a lock on is alive and never touched. Pre-3.0 names (`fastrtps_`) are handled alike.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import re
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

SHM_DIR = Path("/dev/shm")
_SEGMENT_LOCK = re.compile(r"^(?P<name>(?:fastdds|fastrtps)_[0-9a-f]{16})_el$")
_PORT_LOCK = re.compile(r"^(?P<name>(?:fastdds|fastrtps)_port\d{1,5})_(?:el|sl)$")
# A lock file younger than this may belong to an owner between creating and locking it.
MIN_AGE_S = 1.0


@dataclass(frozen=True)
class Zombie:
    """A segment or port whose every lock file is unlocked: its owners are dead."""

    kind: str  # "segment" or "port"
    name: str
    locks: tuple[Path, ...]
    files: tuple[Path, ...]  # the data files: segment/port and, for a port, its mutex

    @property
    def bytes(self) -> int:
        return sum(_size(path) for path in (*self.files, *self.locks))


@dataclass(frozen=True)
class Cleaned:
    """What one clean removed; `appeared`: how many of those (and their bytes) were not yet
    zombies when the run that asked started, i.e. what that run left behind."""

    segments: int = 0
    ports: int = 0
    bytes: int = 0
    appeared: tuple[int, int] | None = None

    def line(self) -> str:
        removed = (f"sgnet-shm-clean: removed {self.segments} zombie Fast DDS segments and "
                   f"{self.ports} ports ({self.bytes / 1e6:.1f} MB)")
        if self.appeared is None:
            return removed
        count, size = self.appeared
        return f"{removed}; {count} of them ({size / 1e6:.1f} MB) appeared during this run"


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _lock_groups(shm_dir: Path) -> dict[tuple[str, str], list[Path]]:
    """{(kind, name): its lock files} for every Fast DDS lock file in `shm_dir`."""
    try:
        names = os.listdir(shm_dir)
    except OSError:
        return {}
    groups: dict[tuple[str, str], list[Path]] = {}
    for file_name in names:
        for kind, pattern in (("segment", _SEGMENT_LOCK), ("port", _PORT_LOCK)):
            match = pattern.match(file_name)
            if match:
                groups.setdefault((kind, match["name"]), []).append(shm_dir / file_name)
    return groups


@contextmanager
def _probe(lock: Path) -> Iterator[bool]:
    """Yields True while this process holds `lock` (so its owner is gone), else False.

    Opened without O_CREAT: a lock file that vanished meanwhile is not re-created.
    """
    try:
        descriptor = os.open(lock, os.O_RDONLY)
    except OSError:
        yield False
        return
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(descriptor)
        yield False
        return
    try:
        yield True
    finally:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        os.close(descriptor)


def _old_enough(locks: list[Path], min_age_s: float) -> bool:
    now = time.time()
    return all(now - _mtime(lock) >= min_age_s for lock in locks)


def wait_until_judgeable(shm_dir: Path = SHM_DIR, min_age_s: float = MIN_AGE_S) -> None:
    """Sleep until every lock file present now is `min_age_s` old (at most that long), so a
    clean right after a child was killed sees its segment."""
    locks = [lock for group in _lock_groups(shm_dir).values() for lock in group]
    newest = max(map(_mtime, locks), default=0.0)
    time.sleep(min(min_age_s, max(0.0, newest + min_age_s - time.time())))


def _zombie(kind: str, name: str, locks: list[Path], shm_dir: Path) -> Zombie:
    files = [shm_dir / name]
    if kind == "port":
        files.append(shm_dir / f"sem.{name}_mutex")
    return Zombie(kind, name, tuple(sorted(locks)), tuple(files))


def _unheld(shm_dir: Path, min_age_s: float) -> Iterator[Zombie]:
    """Each zombie in turn, its lock files held by this process until the next is sought,
    so no new owner can take one over while it is being removed."""
    for (kind, name), locks in sorted(_lock_groups(shm_dir).items()):
        if not _old_enough(locks, min_age_s):
            continue
        with ExitStack() as stack:
            if all(stack.enter_context(_probe(lock)) for lock in locks):
                yield _zombie(kind, name, locks, shm_dir)


def find_zombies(shm_dir: Path = SHM_DIR, min_age_s: float = MIN_AGE_S) -> list[Zombie]:
    """Every segment and port in `shm_dir` none of whose lock files anybody holds."""
    return list(_unheld(shm_dir, min_age_s))


def _remove(zombie: Zombie) -> int:
    """Unlink a zombie's files (data first, locks last); the bytes freed."""
    freed = 0
    for path in (*zombie.files, *zombie.locks):
        size = _size(path)
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        freed += size
    return freed


def zombie_names(shm_dir: Path = SHM_DIR, min_age_s: float = MIN_AGE_S) -> frozenset[str]:
    """The zombies there are now: what a run passes to `clean` at its end as
    `present_before`, so that it reports only what it left itself."""
    return frozenset(zombie.name for zombie in find_zombies(shm_dir, min_age_s))


def clean(shm_dir: Path = SHM_DIR, min_age_s: float = MIN_AGE_S,
          present_before: frozenset[str] | None = None) -> Cleaned:
    """Remove every zombie segment and port; live ones (lock held) are never touched, nor
    files of another user (sticky /dev/shm). With `present_before`, also count those that
    were not among it."""
    segments = ports = freed = appeared = appeared_bytes = 0
    for zombie in _unheld(shm_dir, min_age_s):
        try:
            size = _remove(zombie)
        except PermissionError:
            continue
        freed += size
        segments += zombie.kind == "segment"
        ports += zombie.kind == "port"
        if present_before is not None and zombie.name not in present_before:
            appeared, appeared_bytes = appeared + 1, appeared_bytes + size
    return Cleaned(segments, ports, freed,
                   None if present_before is None else (appeared, appeared_bytes))


def main(argv: list[str] | None = None) -> int:
    """`sgnet-shm-clean`: remove zombie Fast DDS shared memory, print one line."""
    parser = argparse.ArgumentParser(prog="sgnet-shm-clean", description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=SHM_DIR, help="shared-memory folder")
    parser.add_argument("--min-age", type=float, default=MIN_AGE_S,
                        help="seconds a lock file must exist before it is judged")
    args = parser.parse_args(argv)
    print(clean(args.dir, args.min_age).line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
