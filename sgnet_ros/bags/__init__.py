"""Offline tools on rosbag2 bags: reading and writing, the player, the output recorder,
`sgnet-replay` (direct and ros modes), its reports, and the demo.

May import from pipeline/, ros/ and training/ (metrics); nothing imports bags/ back
except the benchmarks.
"""
