"""DisplayClock: display times from the pts that packets and frames carry (pure, no files)."""
import pytest

from codecstyle.video.timeline import LOOKAHEAD, DisplayClock, frame_ticks


def _run(packets, frames, ticks=1, failed=()):
    """Feed ``packets`` (pts in decode order) one by one; after packet i, the frames listed in
    ``frames[i]`` (their own pts) come out. Returns the display times and the clock."""
    clock = DisplayClock(ticks)
    out = []
    for i, pts in enumerate(packets):
        clock.fed(pts)
        if pts in failed:
            clock.failed(pts)
        for own in frames.get(i, []):
            out.extend(t for _, t in clock.push(own, own))
    out.extend(t for _, t in clock.finish())
    clock.unclaimed()
    return out, clock


def test_well_made_stream_keeps_its_own_times():
    # x264 with B-frames: decode order I0 P4 B2 b1 b3, frames out in display order
    packets = [0, 4, 2, 1, 3, 8, 6, 5, 7]
    frames = {2: [0], 3: [1], 4: [2, 3], 5: [4], 7: [5], 8: [6, 7, 8]}
    times, clock = _run(packets, frames)
    assert times == list(range(9))
    assert clock.mode == "stream" and clock.fixed == 0 and clock.lost == []


def test_decode_order_times_are_reordered():
    # pts written equal to dts: packets carry 0..8 in decode order; frames out in display order
    # carry their packet's time: I0->0 b1->3 B2->2 b3->4 P4->1 ...
    packets = list(range(9))
    frames = {2: [0], 3: [3], 4: [2, 4], 5: [1], 7: [7], 8: [6, 8, 5]}
    times, clock = _run(packets, frames)
    assert times == list(range(9))
    assert clock.mode == "reordered" and clock.lost == []


def test_packed_b_frames():
    # DivX packed B-frames: frames come out carrying 1, 2, 3, 5, 4, 6, 8, 7
    owns = [1, 2, 3, 5, 4, 6, 8, 7]
    times, clock = _run(list(range(1, 9)), {i: [own] for i, own in enumerate(owns)})
    assert times == list(range(1, 9))
    assert clock.mode == "reordered"


def test_a_lost_frame_shifts_nothing():
    # frame 3's packet went in but nothing came out: later frames keep their own times
    packets = list(range(10))
    frames = {i: [i] for i in range(10) if i != 3}
    times, clock = _run(packets, frames)
    assert times == [0, 1, 2, 4, 5, 6, 7, 8, 9]
    assert clock.mode == "stream" and clock.lost == [3]


def test_silent_loss_in_a_reordered_stream_is_counted_where_it_was():
    # packed B-frames, the frame carrying 5 lost without an error: counted once, at 5
    owns = [1, 3, 2, 4, 7, 6, 9, 8, 11, 10, 12]
    times, clock = _run(list(range(1, 13)), {i: [own] for i, own in enumerate(owns)})
    assert clock.mode == "reordered" and len(times) == 11
    assert all(b > a for a, b in zip(times, times[1:]))
    assert clock.lost == [5]


def test_a_rejected_packet_is_lost_at_its_time():
    packets = [0, 1, 2, 3, 4]
    times, clock = _run(packets, {0: [0], 1: [1], 3: [3], 4: [4]}, failed={2})
    assert times == [0, 1, 3, 4] and clock.lost == [2]


def test_lost_frames_at_the_start():
    # a stream whose first packets never decode (no keyframe before them)
    packets = list(range(12))
    times, clock = _run(packets, {i: [i] for i in range(5, 12)})
    assert times == list(range(5, 12)) and clock.lost == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("owns", [[None] * 6, [0] * 6])
def test_missing_or_repeated_times_are_numbered(owns):
    packets = [None] * 6 if owns[0] is None else [0] * 6
    times, clock = _run(packets, {i: [own] for i, own in enumerate(owns)}, ticks=40)
    assert times == [0, 40, 80, 120, 160, 200]
    assert clock.fixed >= 5


def test_times_always_increase_on_garbage():
    # arbitrary pts in arbitrary order: still strictly increasing, one per frame
    owns = [5, 5, 2, 9, 1, None, 3, 3, 12, 0]
    times, _ = _run(owns, {i: [own] for i, own in enumerate(owns)}, ticks=3)
    assert len(times) == len(owns)
    assert all(b > a for a, b in zip(times, times[1:]))


def test_lookahead_is_bounded():
    # a disagreement holds frames back for at most LOOKAHEAD frames
    clock = DisplayClock(1)
    for pts in range(3 * LOOKAHEAD):
        clock.fed(pts)
    out = clock.push(5, "first")  # disagrees with the smallest time, 0
    assert out == []
    released = []
    for own in range(6, 6 + LOOKAHEAD):
        released += clock.push(own, own)
    assert released and released[0][0] == "first"


def test_frame_ticks():
    from fractions import Fraction

    assert frame_ticks(Fraction(25), Fraction(1, 12800)) == 512
    assert frame_ticks(None, Fraction(1, 1000)) == 40
    assert frame_ticks(Fraction(30000, 1001), Fraction(1, 90000)) == 3003
