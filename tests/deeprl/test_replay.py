"""deeprl.common.replay: FIFO order, overwrite, pop_oldest, sampling and exact state round trips."""

import numpy as np
import pytest

from deeprl.common.replay import ReplayBuffer, transition_fields


def _fill(buf: ReplayBuffer, start: int, stop: int) -> None:
    for i in range(start, stop):
        buf.add(obs=[i, -i], action=[i], reward=float(i), next_obs=[i + 1, -i - 1],
                terminated=i % 7 == 6, truncated=False)


def test_logical_order_and_overwrite():
    buf = ReplayBuffer(5, transition_fields(2, 1))
    _fill(buf, 0, 3)
    assert len(buf) == 3
    assert buf.get(np.arange(3))["reward"].tolist() == [0, 1, 2]
    _fill(buf, 3, 8)  # 8 added into capacity 5: the oldest three are gone
    assert len(buf) == 5 and buf.total_added == 8
    assert buf.get(np.arange(5))["reward"].tolist() == [3, 4, 5, 6, 7]
    assert buf.get(buf.newest(2))["reward"].tolist() == [6, 7]
    assert buf.get(buf.oldest(2))["reward"].tolist() == [3, 4]
    assert buf.get(np.array([3]))["terminated"].tolist() == [True]  # transition 6
    with pytest.raises(IndexError):
        buf.get(np.array([5]))


def test_pop_oldest_then_regrow():
    buf = ReplayBuffer(6, transition_fields(2, 1))
    _fill(buf, 0, 6)
    assert buf.pop_oldest(4) == 4
    assert buf.get(np.arange(len(buf)))["reward"].tolist() == [4, 5]
    assert buf.pop_oldest(10) == 2 and len(buf) == 0
    _fill(buf, 10, 18)
    assert buf.get(np.arange(len(buf)))["reward"].tolist() == [12, 13, 14, 15, 16, 17]


def test_state_dict_round_trip_continues_identically():
    a = ReplayBuffer(7, transition_fields(2, 1, {"mean_action": ((1,), np.float32)}))
    for i in range(11):
        a.add(obs=[i, 0], action=[i], reward=i, next_obs=[i, 1], terminated=False, truncated=i == 4,
              mean_action=[0.5 * i])
    a.pop_oldest(2)
    b = ReplayBuffer(7, a.fields)
    b.load_state_dict(a.state_dict())
    ra, rb = np.random.default_rng(3), np.random.default_rng(3)
    for _ in range(3):
        sa, sb = a.sample(16, ra), b.sample(16, rb)
        for k in sa:
            np.testing.assert_array_equal(sa[k], sb[k])
    for buf in (a, b):
        buf.add(obs=[99, 0], action=[1], reward=99, next_obs=[0, 0], terminated=True, truncated=False,
                mean_action=[0])
    np.testing.assert_array_equal(a.get(np.arange(len(a)))["reward"], b.get(np.arange(len(b)))["reward"])
    assert b.total_added == a.total_added == 12


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="capacity"):
        ReplayBuffer(0, transition_fields(2, 1))
    buf = ReplayBuffer(3, transition_fields(2, 1))
    with pytest.raises(ValueError, match="missing"):
        buf.add(obs=[0, 0])
    with pytest.raises(ValueError, match="empty"):
        buf.sample(4, np.random.default_rng(0))
    other = ReplayBuffer(3, transition_fields(2, 1, {"x": ((), np.float32)}))
    with pytest.raises(ValueError, match="fields"):
        buf.load_state_dict(other.state_dict())
