"""Instance-specific checks: the hard instance of spec §2.3 (eqs. (6)-(7)), SafeRisky, LowVariance, tabular."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from simulators import dp, make_instance
from simulators.instances import (
    RISKY,
    SAFE,
    alpha_crit,
    hard_closed_form_value,
    hard_delta,
    hard_linear_mixture,
    hard_structure,
    safe_risky_alpha_crit,
    tabular_as_linear,
)


@pytest.mark.parametrize(("d", "H", "K"), [(2, 3, 50), (4, 5, 1000), (6, 4, 5000)])
def test_hard_instance_is_eq6_with_the_paper_constants(d, H, K):
    m = make_instance("hard", seed=2, d=d, H=H, K=K)
    st = hard_structure(m)
    delta, Delta = hard_delta(d, H, K)
    assert st.delta == pytest.approx(1.0 / H) and delta == pytest.approx(1.0 / H)
    assert Delta == pytest.approx(np.sqrt(delta / K) / (4 * np.sqrt(2)))
    np.testing.assert_allclose(np.abs(st.mu), Delta, rtol=1e-12)
    assert m.d == d + 1 and m.A == 2 ** (d - 1) and m.S == H + 2
    np.testing.assert_allclose(np.linalg.norm(m.phi, axis=-1), 1.0, atol=1e-12)
    g = H + 1
    for h in range(H):
        for a in range(m.A):
            p = delta + st.mu[h] @ st.actions[a]
            assert m.P[h, h, a, g] == pytest.approx(p, abs=1e-14)
            assert m.P[h, h, a, h + 1] == pytest.approx(1 - p, abs=1e-14)
            assert 0.75 * delta - 1e-12 <= p <= 1.25 * delta + 1e-12  # validity, spec §2.3
        assert np.all(m.P[h, g, :, g] == 1.0)
    assert np.all(m.R[:, g] == 1.0) and np.all(m.R[:, :g] == 0.0)


def test_hard_instance_optimal_policy_is_sign_mu_and_closed_form_7_matches_dp():
    m = make_instance("hard", seed=5, d=4, H=5, K=800)
    st = hard_structure(m)
    opt = dp.optimal(m)
    chain_actions = np.array([opt.pi[h, h] for h in range(m.H - 1)])
    np.testing.assert_array_equal(chain_actions, st.optimal_actions[: m.H - 1])
    assert hard_closed_form_value(m, opt.pi) == pytest.approx(dp.initial_value(m, opt.V), abs=1e-13)
    rng = np.random.default_rng(0)
    for _ in range(20):
        pi = rng.integers(0, m.A, size=(m.H, m.S))
        assert hard_closed_form_value(m, pi) == pytest.approx(dp.initial_value(m, dp.policy_value(m, pi)), abs=1e-13)
    # brute force over the chain actions (smaller instance): sign(mu_h) is the best
    m = make_instance("hard", seed=5, d=3, H=4, K=800)
    best = max(
        hard_closed_form_value(m, np.tile(np.array(c)[:, None], (1, m.S)).astype(int))
        for c in itertools.product(range(m.A), repeat=m.H)
    )
    assert best == pytest.approx(dp.initial_value(m, dp.optimal(m).V), abs=1e-13)


def test_hard_instance_validity_is_asserted():
    d, H = 5, 4
    k_min = (d - 1) ** 2 * H / 2
    make_instance("hard", d=d, H=H, K=int(np.ceil(k_min)))
    with pytest.raises(ValueError, match="need K >= "):
        make_instance("hard", d=d, H=H, K=int(k_min) - 1)


def test_hard_gap_shrinks_like_one_over_sqrt_k():
    gaps = []
    for K in (1000, 4000, 16000):
        m = make_instance("hard", seed=1, d=4, H=5, K=K)
        opt = dp.optimal(m)
        worst = dp.policy_value(m, np.where(opt.pi == opt.pi, m.A - 1 - opt.pi, 0))
        gaps.append(dp.initial_value(m, opt.V) - dp.initial_value(m, worst))
    assert gaps[0] / gaps[1] == pytest.approx(2.0, rel=0.02)
    assert gaps[1] / gaps[2] == pytest.approx(2.0, rel=0.02)


def test_hard_mixture_form_has_the_same_kernel_on_reachable_pairs():
    mix = hard_linear_mixture(seed=3, d=4, H=5, K=1000)
    lin = make_instance("hard", seed=3, d=4, H=5, K=1000)
    Pm = mix.kernel()
    assert np.all(Pm >= 0) and np.allclose(Pm.sum(-1), 1.0)
    g = lin.H + 1
    for h in range(lin.H):
        np.testing.assert_allclose(Pm[h, h], lin.P[h, h], atol=1e-14)
        np.testing.assert_allclose(Pm[h, g], lin.P[h, g], atol=1e-14)
    np.testing.assert_array_equal(mix.R, lin.R)


def test_safe_risky_structure_and_alpha_crit():
    m = make_instance("safe-risky", p_c=0.1, H=5)
    assert m.S == 2 and m.A == 2 and m.d == 4
    assert m.R[0, 0, SAFE] == 0.5 and m.R[0, 0, RISKY] == 1.0
    assert m.P[0, 0, RISKY, 1] == pytest.approx(0.1)
    ac = safe_risky_alpha_crit(0.1, 5)
    assert 0.1 < ac < 1.0
    assert dp.optimal(m, 1.0).pi[0, 0] == RISKY
    assert dp.optimal(m, ac - 1e-6).pi[0, 0] == SAFE
    assert dp.optimal(m, min(1.0, ac + 1e-6)).pi[0, 0] == RISKY
    # closed form at the last-but-one step: safe iff alpha < 2 p_c V_{H}(ok) = 2 p_c
    two = make_instance("safe-risky", p_c=0.1, H=2)
    assert alpha_crit(two) == pytest.approx(0.2, abs=1e-8)
    # padding keeps the dynamics and values, adds nuisance features
    padded = make_instance("safe-risky", seed=3, p_c=0.1, H=5, pad=4)
    assert padded.d == 8
    np.testing.assert_allclose(padded.P, m.P, atol=1e-15)
    np.testing.assert_allclose(dp.optimal(padded, 0.3).V, dp.optimal(m, 0.3).V, atol=1e-12)


def test_alpha_crit_raises_when_policies_never_differ():
    m = make_instance("safe-risky", p_c=0.0, H=3)  # risky is never risky
    with pytest.raises(ValueError, match="agree for every alpha"):
        alpha_crit(m)


def test_low_variance_structure():
    m = make_instance("low-variance", seed=2, S=30, A=4, d=6, H=4, eta=0.0, q=0.0)
    # eta = 0, q = 0: one-hot features and deterministic transitions
    assert np.all(np.isclose(m.P, 0) | np.isclose(m.P, 1))
    assert np.all(np.isclose(np.max(m.phi, axis=-1), 1.0))
    assert np.all(np.count_nonzero(m.theta, axis=-1) <= 2)
    noisy = make_instance("low-variance", seed=2, S=30, A=4, d=6, H=4, eta=0.5, q=0.0)
    assert np.min(noisy.P) >= 0.5 / 30 - 1e-15


def test_tabular_as_linear_uses_one_hot_features():
    rng = np.random.default_rng(0)
    P = rng.dirichlet(np.ones(3), size=(2, 3, 2))
    R = rng.uniform(size=(2, 3, 2))
    m = tabular_as_linear(P, R, 1)
    assert m.d == 6
    np.testing.assert_array_equal(m.phi.reshape(6, 6), np.eye(6))
    np.testing.assert_allclose(m.P, P, atol=1e-15)
    np.testing.assert_allclose(m.R, R, atol=1e-15)
    np.testing.assert_array_equal(m.init, [0.0, 1.0, 0.0])


def test_hard_embedding_norm_bounds():
    """||φ|| = 1 and ||μ_h(S)|| ≤ √(d+1)·(1 + O(d²Δ²)) (spec §2.3, embedding)."""
    d, H, K = 6, 4, 2000
    m = make_instance("hard", seed=0, d=d, H=H, K=K)
    _, Delta = hard_delta(d, H, K)
    for h in range(H):
        tv = np.abs(np.asarray(m.mu[h])).sum(axis=0)  # coordinate-wise total variation
        expected = np.sqrt((d + 1) + 4 * d * (d - 1) * Delta**2)
        assert np.linalg.norm(tv) == pytest.approx(expected, rel=1e-12)
        assert np.linalg.norm(tv) <= np.sqrt(d + 1) * (1 + 4 * d**2 * Delta**2)
    assert np.all(np.linalg.norm(m.theta, axis=-1) <= np.sqrt(m.d))
