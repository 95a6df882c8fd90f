"""RLx2's dynamic-capacity buffer (spec §2.3): shrinks under policy mismatch, never below its minimum."""

import numpy as np
import pytest

from deeprl.rlx2.buffer import DynamicReplayBuffer


def _filled(mode: str, n: int = 1000, min_size: int = 300, **kw) -> DynamicReplayBuffer:
    buf = DynamicReplayBuffer(3, 2, np.array([2.0, 2.0]), max_size=2000, min_size=min_size, shrink_mode=mode,
                              n_check=64, **kw)
    rng = np.random.default_rng(0)
    for _ in range(n):
        o = rng.normal(size=3).astype(np.float32)
        buf.add(o, np.zeros(2), 0.0, o, False, False, mean_action=np.full(2, 1.0))
    return buf


def matching(obs):  # the behaviour policy itself: mismatch 0
    return np.full((len(obs), 2), 1.0)


def far(obs):  # every action off by 2 = one action scale: D = 1/2 per eq. (24)
    return np.full((len(obs), 2), -1.0)


def test_mismatch_formulas():
    buf = _filled("code")
    assert buf.mismatch(matching) == 0.0
    assert buf.mismatch(far) == pytest.approx(0.5)  # 1/2 * mean(((-1 - 1)/2)^2)
    l2 = _filled("code", distance="l2")
    assert l2.mismatch(far) == pytest.approx(np.sqrt(8.0))  # ||(-2, -2)||_2


def test_code_mode_shrinks_ten_percent_per_check_and_stops_at_min():
    buf = _filled("code")
    assert buf.check(matching)["buffer/removed"] == 0 and len(buf) == 1000
    sizes = []
    for _ in range(30):
        buf.check(far)
        sizes.append(len(buf))
    assert sizes[0] == 900 and sizes[1] == 810  # oldest 10 % removed at each check
    assert min(sizes) == 300 and sizes[-1] == 300  # never below min_size
    assert all(a >= b for a, b in zip(sizes, sizes[1:]))


def test_removes_the_oldest_and_regrows_to_max():
    buf = _filled("code", n=1000)
    newest_before = buf.data.get(buf.data.newest(900), ["obs"])["obs"]
    buf.check(far)
    np.testing.assert_array_equal(buf.data.get(np.arange(900), ["obs"])["obs"], newest_before)
    for _ in range(5000):
        buf.add(np.zeros(3), np.zeros(2), 0.0, np.zeros(3), False, False, np.zeros(2))
    assert len(buf) == 2000  # FIFO at max_size


def test_paper_mode_shrinks_until_below_threshold_or_min():
    # the oldest 400 transitions are off-policy, the newest 600 on-policy
    buf = _filled("paper", n=0, min_size=100)
    for i in range(1000):
        mu = np.full(2, -1.0 if i < 400 else 1.0)
        buf.add(np.full(3, i, dtype=np.float32), np.zeros(2), 0.0, np.zeros(3), False, False, mu)
    info = buf.check(matching)
    assert info["buffer/distance"] == pytest.approx(0.5)
    assert buf.mismatch(matching) <= 0.2 and 550 <= len(buf) <= 640  # stopped once the old K are on-policy
    deep = _filled("paper", n=1000, min_size=700)
    deep.check(far)
    assert len(deep) == 700  # mismatch everywhere: down to min_size, not below


def test_off_mode_never_shrinks_and_validation():
    buf = _filled("off")
    info = buf.check(far)
    assert info["buffer/distance"] == pytest.approx(0.5) and len(buf) == 1000
    with pytest.raises(ValueError, match="min_size"):
        DynamicReplayBuffer(3, 2, np.ones(2), max_size=10, min_size=20)
    with pytest.raises(ValueError, match="shrink_mode"):
        DynamicReplayBuffer(3, 2, np.ones(2), max_size=10, min_size=5, shrink_mode="sometimes")
