"""Numba episode sampling: Monte-Carlo vs exact values, chi-square on next states, seeding, errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from simulators import dp, make_instance, rollout


def test_shapes_and_dtypes():
    m = make_instance("random", seed=0, S=10, A=3, d=4, H=6)
    pi = dp.optimal(m).pi
    s, a, r = rollout.sample_episodes(m, pi, 7, seed=1)
    assert s.shape == (7, 7) and a.shape == (7, 6) and r.shape == (7, 6)
    assert s.dtype == np.int64 and a.dtype == np.int64 and r.dtype == np.float64
    assert np.all(s[:, 0] == 0)  # start state 0
    np.testing.assert_array_equal(a, pi[np.arange(6)[None, :], s[:, :-1]])  # deterministic policy played
    np.testing.assert_array_equal(r, np.asarray(m.R)[np.arange(6)[None, :], s[:, :-1], a])
    s0, a0, r0 = rollout.sample_episodes(m, pi, 0, seed=1)
    assert s0.shape == (0, 7)


@pytest.mark.parametrize("stochastic", [False, True])
def test_monte_carlo_mean_return_matches_exact_value(stochastic):
    m = make_instance("random", seed=3, S=15, A=4, d=5, H=6, uniform_init=True)
    rng = np.random.default_rng(0)
    pi = rng.dirichlet(np.ones(m.A), size=(m.H, m.S)) if stochastic else rng.integers(0, m.A, size=(m.H, m.S))
    exact = dp.initial_value(m, dp.policy_value(m, pi))
    n = 40_000
    _, _, r = rollout.sample_episodes(m, pi, n, seed=123)
    G = r.sum(axis=1)
    half_width = 4.0 * G.std(ddof=1) / np.sqrt(n)  # 4-sigma confidence bound
    assert abs(G.mean() - exact) <= half_width


def test_bernoulli_rewards_have_the_right_mean_and_are_binary():
    m = make_instance("random", seed=4, S=10, A=3, d=4, H=5, bernoulli_rewards=True)
    pi = dp.optimal(m).pi
    n = 40_000
    _, _, r = rollout.sample_episodes(m, pi, n, seed=9)
    assert set(np.unique(r)) <= {0.0, 1.0}
    G = r.sum(axis=1)
    exact = dp.initial_value(m, dp.optimal(m).V)
    assert abs(G.mean() - exact) <= 4.0 * G.std(ddof=1) / np.sqrt(n)


def test_chi_square_next_state_frequencies_match_p():
    m = make_instance("tabular", seed=5, S=6, A=2, H=3, a_P=2.0)
    pi = np.zeros((m.H, m.S), dtype=np.int64)
    s, a, _ = rollout.sample_episodes(m, pi, 30_000, seed=2024)
    # step 0 starts at state 0 with action 0: next states ~ P_0(.|0,0)
    counts = np.bincount(s[:, 1], minlength=m.S)
    expected = np.asarray(m.P[0, 0, 0]) * counts.sum()
    assert stats.chisquare(counts, expected).pvalue > 1e-3
    # step 1 from every visited state
    for st in range(m.S):
        mask = s[:, 1] == st
        if mask.sum() < 500:
            continue
        c = np.bincount(s[mask, 2], minlength=m.S)
        assert stats.chisquare(c, np.asarray(m.P[1, st, 0]) * c.sum()).pvalue > 1e-3
    # initial distribution
    mu = make_instance("tabular", seed=5, S=6, A=2, H=3)
    assert np.all(rollout.sample_episodes(mu, pi, 100, seed=0)[0][:, 0] == 0)


def test_zero_probability_next_states_are_never_sampled():
    m = make_instance("hard", seed=0, d=3, H=4, K=500)  # sparse kernel: two successors per state
    s, a, _ = rollout.sample_episodes(m, dp.optimal(m).pi, 5000, seed=0)
    P = np.asarray(m.P)
    for h in range(m.H):
        assert np.all(P[h, s[:, h], a[:, h], s[:, h + 1]] > 0)


def test_same_seed_same_samples_different_seed_different():
    m = make_instance("random", seed=6, S=10, A=3, d=4, H=5)
    pi = np.random.default_rng(0).dirichlet(np.ones(m.A), size=(m.H, m.S))
    x = rollout.sample_episodes(m, pi, 200, seed=42)
    y = rollout.sample_episodes(m, pi, 200, seed=42)
    z = rollout.sample_episodes(m, pi, 200, seed=43)
    for u, v in zip(x, y):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(x[0], z[0])
    # the Generator form and the one-episode form draw the same stream
    g1, g2 = np.random.default_rng(7), np.random.default_rng(7)
    batch = rollout.sample_episodes(m, pi, 1, seed=g1)
    one = rollout.sample_episode(m, pi, g2)
    for u, v in zip(batch, one):
        np.testing.assert_array_equal(u[0], v)


@pytest.mark.parametrize(
    ("call", "word"),
    [
        (lambda m, pi: rollout.sample_episodes(m, pi, -1, 0), "n_episodes"),
        (lambda m, pi: rollout.sample_episodes(m, pi, 2.5, 0), "n_episodes"),
        (lambda m, pi: rollout.sample_episodes(m, pi, 3, -4), "seed"),
        (lambda m, pi: rollout.sample_episodes(m, pi[:1], 3, 0), "pi"),
        (lambda m, pi: rollout.sample_episodes(m, pi + 10, 3, 0), "pi"),
        (lambda m, pi: rollout.sample_episode(m, pi, 3), "rng"),
        (lambda m, pi: rollout.sample_episodes("mdp", pi, 3, 0), "mdp"),
    ],
)
def test_rollout_bad_input_names_the_argument(call, word):
    m = make_instance("tabular", seed=0, S=3, A=2, H=2)
    pi = np.zeros((m.H, m.S), dtype=np.int64)
    with pytest.raises(ValueError, match=word):
        call(m, pi)
