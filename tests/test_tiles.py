"""Tile planning: the heap-based merge gives exactly the plans of the plain greedy rescan."""
import numpy as np

from codecstyle.engine.tiles import dirty_rects, expand, merge_cheaper


def _greedy(rects):
    """The definition: merge the pair that saves most (lowest indices first on ties) while any
    pair saves something, rescanning every pair after every merge."""
    r = [list(x) for x in rects]
    alive = [True] * len(r)
    while True:
        best = None
        for i in range(len(r)):
            for j in range(i + 1, len(r)):
                if not (alive[i] and alive[j]):
                    continue
                a, b = r[i], r[j]
                union = (max(a[2], b[2]) - min(a[0], b[0])) * (max(a[3], b[3]) - min(a[1], b[1]))
                saving = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - union
                if saving >= 0 and (best is None or saving > best[0]):
                    best = (saving, i, j)
        if best is None:
            return sorted(tuple(x) for x, keep in zip(r, alive) if keep)
        _, i, j = best
        r[i] = [min(r[i][0], r[j][0]), min(r[i][1], r[j][1]), max(r[i][2], r[j][2]), max(r[i][3], r[j][3])]
        alive[j] = False


def test_merge_matches_the_greedy_definition():
    rng = np.random.default_rng(7)
    for trial in range(40):
        by, bx = rng.integers(3, 14), rng.integers(3, 18)
        dirty = rng.random((by, bx)) < rng.choice([0.05, 0.15, 0.3])
        if trial % 2:
            dirty[:] = False
            for _ in range(rng.integers(1, 4)):
                y, x = rng.integers(0, by), rng.integers(0, bx)
                dirty[y:y + rng.integers(1, 4), x:x + rng.integers(1, 5)] = True
        h, w = by * 16, bx * 16
        rects = [expand(r, int(rng.choice([8, 24, 40])), h, w) for r in dirty_rects(dirty, 16)]
        assert sorted(merge_cheaper(rects)) == _greedy(rects)


def test_merge_edge_cases():
    assert merge_cheaper([]) == []
    assert merge_cheaper([(0, 0, 8, 8)]) == [(0, 0, 8, 8)]
    assert merge_cheaper([(0, 0, 8, 8), (0, 0, 8, 8)]) == [(0, 0, 8, 8)]  # identical crops merge
    assert sorted(merge_cheaper([(0, 0, 8, 8), (100, 100, 108, 108)])) == [(0, 0, 8, 8), (100, 100, 108, 108)]
