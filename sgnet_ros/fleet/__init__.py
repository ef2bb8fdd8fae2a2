"""`sgnet-fleet`: many bags (and datasets) segmented and evaluated as Ray tasks.

The per-bag work is `sgnet-replay --mode direct` itself, so a fleet's per-bag numbers are
the single replays'; this package adds the discovery of bags, crash-safe output folders,
the Ray scheduling and the fleet report. Ray is an optional extra (`pip install .[fleet]`).

May import from bags/, pipeline/, training/ and ros.parameters; nothing imports fleet/.
"""
