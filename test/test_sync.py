"""The newest-first stamp synchroniser: pairing, slop, newest wins, resets, accounting."""

import pytest

from sgnet_ros.pipeline.sync import NewestSynchronizer

MS = 1_000_000


def make(policy="approximate", slop_s=0.010, queue_size=5):
    return NewestSynchronizer(("rgb", "depth", "info"), queue_size=queue_size, slop_s=slop_s,
                              policy=policy)


def feed(sync, stamps_ms):
    """Feed (stream, stamp_ms) pairs; return the primary stamps (ms) of the emitted sets."""
    emitted = []
    for stream, stamp in stamps_ms:
        result = sync.add(stream, stamp * MS, f"{stream}@{stamp}")
        if result is not None:
            emitted.append(result.stamp_ns // MS)
    return emitted


def test_stamps_within_slop_pair_up_and_carry_their_items():
    sync = make(slop_s=0.010)
    result = None
    for stream, stamp in (("rgb", 100), ("depth", 104), ("info", 100)):
        result = sync.add(stream, stamp * MS, f"{stream}@{stamp}")
    assert result is not None
    assert result.items == {"rgb": "rgb@100", "depth": "depth@104", "info": "info@100"}
    assert result.max_offset_ns == 4 * MS


def test_stamps_beyond_slop_do_not_pair():
    sync = make(slop_s=0.010)
    assert feed(sync, [("rgb", 100), ("depth", 111), ("info", 100)]) == []
    assert sync.pending == 1


def test_exact_policy_needs_equal_stamps():
    sync = make(policy="exact", slop_s=0.5)
    assert feed(sync, [("rgb", 100), ("depth", 101), ("info", 100)]) == []
    assert feed(sync, [("depth", 100)]) == []  # older than the queued 101: a reset
    assert feed(sync, [("rgb", 200), ("depth", 200), ("info", 200)]) == [200]


def test_newest_set_wins_and_older_primaries_are_counted_unsynced():
    sync = make(slop_s=0.005)
    # Three colour frames arrive before any depth; then depth for the newest only.
    emitted = feed(sync, [("rgb", 100), ("rgb", 133), ("rgb", 166), ("info", 166),
                          ("depth", 166)])
    assert emitted == [166]
    assert sync.stats.unsynced == 2
    assert sync.pending == 0
    # Late depth for an already dropped frame never resurrects it.
    assert feed(sync, [("depth", 200), ("info", 200), ("rgb", 200)]) == [200]


def test_every_primary_frame_is_accounted_for():
    sync = make(slop_s=0.005, queue_size=3)
    sequence = []
    for i in range(50):
        stamp = i * 33
        sequence.append(("rgb", stamp))
        if i % 3:  # a third of the frames lose their depth
            sequence.append(("depth", stamp + 1))
        sequence.append(("info", stamp))
    emitted = feed(sync, sequence)
    stats = sync.stats
    assert stats.received["rgb"] == 50
    assert stats.synced == len(emitted) > 0
    assert stats.synced + stats.unsynced + sync.pending == 50


def test_stamps_going_backwards_reset_instead_of_stalling():
    sync = make(slop_s=0.005)
    assert feed(sync, [("rgb", 5000), ("depth", 5000), ("info", 5000)]) == [5000]
    assert feed(sync, [("rgb", 5033)]) == []
    # The bag loops: stamps restart from the beginning.
    assert feed(sync, [("rgb", 0), ("depth", 0), ("info", 0)]) == [0]
    assert sync.stats.resets == 1
    assert sync.stats.unsynced == 1  # the pending 5033 frame


@pytest.mark.parametrize("kwargs, message", [
    ({"streams": ("rgb",)}, "two distinct streams"),
    ({"queue_size": 0}, "queue_size"),
    ({"policy": "latest"}, "policy"),
    ({"slop_s": -1.0}, "slop"),
])
def test_bad_configuration_is_refused(kwargs, message):
    arguments = {"streams": ("rgb", "depth"), **kwargs}
    with pytest.raises(ValueError, match=message):
        NewestSynchronizer(**arguments)
