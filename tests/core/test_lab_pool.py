"""Pooling and the local-invariance demo on the lecture's table."""

import numpy as np
import pytest

from explorer.errors import UserError
from explorer.lab import pool
from explorer.lab.table import lecture_table


def _blocks(x, k):
    h, w = x.shape[0] // k, x.shape[1] // k
    return x[: h * k, : w * k].reshape(h, k, w, k).transpose(0, 2, 1, 3).reshape(h, w, -1)


def test_lecture_max_pooling():
    out = pool.pool(lecture_table(), "max", 5, 5)
    assert out.tolist() == [[617, 614], [614, 625]]
    assert pool.pool(lecture_table(), "max", 5).tolist() == [[617, 614], [614, 625]]
    src = pool.pool_sources(lecture_table(), "max", 5)
    assert src.tolist() == [[[1, 3], [2, 6]], [[9, 1], [9, 5]]]


@pytest.mark.parametrize("k", [2, 3, 5])
def test_modes_against_numpy(k):
    x = lecture_table()
    b = _blocks(x, k)
    assert np.array_equal(pool.pool(x, "max", k), b.max(-1))
    assert np.array_equal(pool.pool(x, "min", k), b.min(-1))
    np.testing.assert_allclose(pool.pool(x, "avg", k), b.mean(-1))
    src = pool.pool_sources(x, "min", k)
    assert np.array_equal(x[src[..., 0], src[..., 1]], b.min(-1))
    assert pool.pool(x, "min", 5).tolist() == [[421, 509], [484, 519]]


def test_overlapping_and_shapes():
    x = lecture_table()
    out = pool.pool(x, "max", 3, 2)
    assert out.shape == pool.pool_output_shape(x.shape, 3, 2) == (4, 4)
    assert out[0, 0] == 595 and out[0, 1] == 617
    assert pool.window_of((2, 2), 3, 2) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert pool.window_of((1, 3), 5) == [(0, 0)]
    assert pool.window_of((9, 9), 3) == [(3, 3)]
    assert pool.window_of((9, 9), 3, shape=(10, 10)) == []  # dropped border of a 10x10 image


def test_moving_max_within_window_keeps_output():
    moves = pool.move_max_within_window(lecture_table(), (0, 0), 5)
    assert len(moves) == 24
    for m in moves:
        assert m.value == 617 and m.same_window and not m.changed
        assert m.after.tolist() == [[617, 614], [614, 625]]


def test_moving_max_across_boundary_changes_output():
    m = pool.move_value(lecture_table(), (1, 3), (1, 5), "max", 5)
    assert not m.same_window and m.changed
    assert m.after.tolist() == [[610, 617], [614, 625]]
    assert m.changed_cells == [(0, 0), (0, 1)]


def test_invariance_map():
    changed = pool.invariance_map(lecture_table(), (0, 0), "max", 5)
    assert not changed[:5, :5].any()
    assert changed[5:].all() and changed[:, 5:].all()
    changed = pool.invariance_map(lecture_table(), (1, 1), "min", 5)
    assert not changed[5:, 5:].any() and changed[:5].all()


@pytest.mark.parametrize(
    "call",
    [
        lambda: pool.pool(lecture_table(), "median", 2),
        lambda: pool.pool(lecture_table(), "max", 11),
        lambda: pool.pool(lecture_table(), "max", 2, 0),
        lambda: pool.pool(lecture_table(), "max", 0),
        lambda: pool.move_value(lecture_table(), (0, 0), (10, 0)),
        lambda: pool.window_maximum(lecture_table(), (2, 0), 5),
    ],
)
def test_bad_arguments(call):
    with pytest.raises(UserError):
        call()
