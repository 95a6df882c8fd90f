"""Multi-step targets (spec eqs. 20-21) against hand-computed n-step returns, and the n schedules."""

import numpy as np
import pytest

from deeprl.common.replay import ReplayBuffer, transition_fields
from deeprl.rlx2.multistep import NStepSchedule, nstep_batch

G = 0.9


def _buffer() -> ReplayBuffer:
    """Two episodes: 0..3 ends in a true terminal at t=3; 4..7 ends by time-limit truncation at t=7;
    8..9 is a third, still running episode. obs = t, next_obs = t + 0.5 (so the bootstrap state is visible)."""
    buf = ReplayBuffer(32, transition_fields(1, 1))
    for t in range(10):
        buf.add(obs=[t], action=[-t], reward=float(t + 1), next_obs=[t + 0.5],
                terminated=t == 3, truncated=t == 7)
    return buf


def test_nstep_return_with_terminal_truncation_and_buffer_end():
    buf = _buffer()
    idx = np.array([0, 1, 3, 5, 6, 7, 8, 9])
    b = nstep_batch(buf, idx, n=3, gamma=G)
    r = lambda t: t + 1.0  # noqa: E731
    # t=0: three steps inside episode 1, bootstrap from next_obs of t=2, not terminal
    exp_sum = [r(0) + G * r(1) + G**2 * r(2),
               r(1) + G * r(2) + G**2 * r(3),  # t=1: reaches the terminal at t=3 exactly at k=2
               r(3),  # t=3: the terminal itself, m=1
               r(5) + G * r(6) + G**2 * r(7),  # t=5: reaches the truncation at t=7
               r(6) + G * r(7),  # t=6: m=2, stops at the truncation
               r(7),  # t=7: truncated transition, m=1
               r(8) + G * r(9),  # t=8: only 2 transitions stored so far
               r(9)]
    np.testing.assert_allclose(b.reward_sum, exp_sum, rtol=1e-6)
    np.testing.assert_array_equal(b.m, [3, 3, 1, 3, 2, 1, 2, 1])
    # terminal => no bootstrap; truncation => bootstrap gamma^m from the state where it happened
    np.testing.assert_allclose(b.bootstrap, [G**3, 0.0, 0.0, G**3, G**2, G, G**2, G], rtol=1e-6)
    np.testing.assert_array_equal(b.boot_obs[:, 0], [2.5, 3.5, 3.5, 7.5, 7.5, 7.5, 9.5, 9.5])
    np.testing.assert_array_equal(b.obs[:, 0], idx)
    np.testing.assert_array_equal(b.action[:, 0], -idx)


def test_one_step_equals_td3_target_and_sac_intermediates():
    buf = _buffer()
    idx = np.arange(10)
    b1 = nstep_batch(buf, idx, n=1, gamma=G)
    np.testing.assert_allclose(b1.reward_sum, idx + 1.0)
    term = np.array([t == 3 for t in idx])
    np.testing.assert_allclose(b1.bootstrap, np.where(term, 0.0, G), rtol=1e-6)
    b = nstep_batch(buf, np.array([0, 2, 6]), n=3, gamma=G, with_inter=True)
    assert b.inter_obs.shape == (3, 2, 1)
    np.testing.assert_array_equal(b.inter_obs[0, :, 0], [1, 2])  # s_{t+1}, s_{t+2}
    np.testing.assert_allclose(b.inter_weight, [[G, G**2], [G, 0.0], [G, 0.0]], rtol=1e-6)


def test_nstep_matches_brute_force_on_random_episodes():
    rng = np.random.default_rng(0)
    buf = ReplayBuffer(500, transition_fields(1, 1))
    T = 400
    rew = rng.normal(size=T)
    term = rng.random(T) < 0.05
    trunc = ~term & (rng.random(T) < 0.05)
    for t in range(T):
        buf.add(obs=[t], action=[0], reward=rew[t], next_obs=[t + 0.5], terminated=term[t], truncated=trunc[t])
    for n in (1, 2, 5):
        idx = rng.integers(0, T, size=64)
        b = nstep_batch(buf, idx, n, 0.97)
        for j, t in enumerate(idx):
            y, k = 0.0, 0
            while True:
                y += 0.97**k * rew[t + k]
                k += 1
                if term[t + k - 1] or trunc[t + k - 1] or k == n or t + k == T:
                    break
            assert b.m[j] == k
            assert b.reward_sum[j] == pytest.approx(y, rel=1e-5, abs=1e-5)
            assert b.bootstrap[j] == pytest.approx(0.0 if term[t + k - 1] else 0.97**k, rel=1e-6)
            assert b.boot_obs[j, 0] == t + k - 1 + 0.5


def test_schedules():
    s = NStepSchedule("delayed", 3, t_switch=100)
    assert [s.n(i) for i in (0, 99, 100, 10**6)] == [1, 1, 3, 3]
    assert NStepSchedule("off", 3, 100).n(10**6) == 1
    assert NStepSchedule("fixed", 4, 100).n(0) == 4
    a = NStepSchedule("adaptive", 3, t_switch=100, delta_switch=0.01, patience=3)
    for it, d in [(10, 0.005), (20, 0.5), (30, 0.001), (40, 0.002)]:
        a.observe_policy_change(it, d)
    assert a.n(41) == 1  # only two calm checks in a row so far
    a.observe_policy_change(50, 0.003)
    assert a.n(51) == 3 and a.switched_at == 50
    b = NStepSchedule("adaptive", 3, t_switch=100)
    assert b.n(199) == 1 and b.n(200) == 3  # forced at 2 * t_switch
    with pytest.raises(ValueError, match="multistep mode"):
        NStepSchedule("bogus", 3, 10)
