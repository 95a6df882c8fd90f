"""Exact DP (spec §1 eqs. (2)-(5), §5.1 eqs. (19)-(20)) against brute force and identities (spec §7)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from simulators import LinearMDP, dp, make_instance
from simulators.risk import cvar_sup_scan


def _naive_value(mdp: LinearMDP, pi: np.ndarray, alpha: float) -> np.ndarray:
    """V^π by a pure-Python recursion, with CVaR by the sup formula (16): shares no code with dp."""
    H, S = mdp.H, mdp.S
    V = np.zeros((H + 1, S))
    for h in reversed(range(H)):
        for s in range(S):
            a = int(pi[h, s])
            p = np.asarray(mdp.P[h, s, a])
            nxt = float(p @ V[h + 1]) if alpha == 1.0 else cvar_sup_scan(V[h + 1], p, alpha)
            V[h, s] = mdp.R[h, s, a] + nxt
    return V


def _all_deterministic_policies(H: int, S: int, A: int):
    for flat in itertools.product(range(A), repeat=H * S):
        yield np.array(flat, dtype=np.int64).reshape(H, S)


TINY = [
    ("tabular", dict(S=2, A=2, H=3)),
    ("tabular", dict(S=3, A=2, H=2, a_P=0.3)),
    ("safe-risky", dict(H=3, p_c=0.3)),
]


@pytest.mark.parametrize(("name", "params"), TINY)
@pytest.mark.parametrize("alpha", [1.0, 0.5, 0.2, 0.05])
def test_optimal_value_equals_brute_force_over_deterministic_policies(name, params, alpha):
    mdp = make_instance(name, seed=7, **params)
    res = dp.optimal(mdp, alpha)
    best = np.full((mdp.S,), -np.inf)
    best_init = -np.inf
    for pi in _all_deterministic_policies(mdp.H, mdp.S, mdp.A):
        V = _naive_value(mdp, pi, alpha)
        best = np.maximum(best, V[0])  # a Markov policy optimal from every start state exists
        best_init = max(best_init, float(mdp.init @ V[0]))
        np.testing.assert_allclose(dp.policy_value(mdp, pi, alpha), V, atol=1e-12)
    np.testing.assert_allclose(res.V[0], best, atol=1e-12)
    assert dp.initial_value(mdp, res.V) == pytest.approx(best_init, abs=1e-12)
    # the greedy policy attains V*
    np.testing.assert_allclose(dp.policy_value(mdp, res.pi, alpha), res.V, atol=1e-12)


@pytest.mark.parametrize("name", ["random", "tabular", "hard", "low-variance", "misspecified", "safe-risky"])
def test_cvar_operator_at_alpha_one_reproduces_the_risk_neutral_dp(name):
    params = dict(S=12, A=3, d=4, H=5) if name in ("random", "low-variance", "misspecified") else {}
    mdp = make_instance(name, seed=3, **params)
    neutral = dp.optimal(mdp, 1.0)  # factored product (5) where the factors are exact and d < S
    forced = dp.optimal(mdp, 1.0, operator="cvar")  # always the S-sum over P
    if name in ("random", "low-variance", "hard"):
        assert mdp.factors_exact and mdp.d < mdp.S
    assert neutral.operator == "mean" and forced.operator == "cvar"
    np.testing.assert_allclose(forced.Q, neutral.Q, atol=1e-12, rtol=0)
    np.testing.assert_allclose(forced.V, neutral.V, atol=1e-12, rtol=0)
    pi = np.random.default_rng(0).integers(0, mdp.A, size=(mdp.H, mdp.S))
    np.testing.assert_allclose(dp.policy_value(mdp, pi, 1.0, operator="cvar"), dp.policy_value(mdp, pi), atol=1e-12)


def test_iterated_cvar_value_is_below_neutral_and_nondecreasing_in_alpha():
    mdp = make_instance("random", seed=5, S=15, A=3, d=4, H=6)
    vals = [dp.initial_value(mdp, dp.optimal(mdp, a).V) for a in (0.01, 0.05, 0.1, 0.25, 0.5, 0.9, 1.0)]
    assert all(x <= y + 1e-12 for x, y in itertools.pairwise(vals))
    V1 = dp.optimal(mdp, 1.0).V
    for a in (0.05, 0.3):
        assert np.all(dp.optimal(mdp, a).V <= V1 + 1e-12)


def test_worst_path_limit():
    """α → 0: max_a [r + min over supp P_h(·|s,a) of V] (spec §5.1)."""
    mdp = make_instance("tabular", seed=2, S=4, A=2, H=3, a_P=0.5)
    V = np.zeros((mdp.H + 1, mdp.S))
    for h in reversed(range(mdp.H)):
        P = np.asarray(mdp.P[h])
        Q = np.asarray(mdp.R[h]) + np.where(P > 0, V[h + 1][None, None, :], np.inf).min(axis=-1)
        V[h] = Q.max(axis=-1)
    np.testing.assert_allclose(dp.optimal(mdp, 1e-9).V, V, atol=1e-9)


def test_values_lie_in_zero_h_and_v_last_is_zero():
    for name in ("random", "hard", "low-variance", "safe-risky"):
        mdp = make_instance(name, seed=1)
        for a in (1.0, 0.1):
            V = dp.optimal(mdp, a).V
            assert V.shape == (mdp.H + 1, mdp.S)
            assert np.all(V[mdp.H] == 0)
            assert V.min() >= -1e-12 and V.max() <= mdp.H + 1e-12


def test_risk_neutral_q_star_is_linear_in_phi():
    """Spec §2: least-squares residual of the risk-neutral Q*_h on Phi ≤ 1e-9 (not for ICVaR, §5.1)."""
    for name in ("random", "hard", "low-variance", "tabular"):
        mdp = make_instance(name, seed=4)
        Phi = np.asarray(mdp.phi).reshape(-1, mdp.d)
        Q = dp.optimal(mdp).Q
        for h in range(mdp.H):
            q = Q[h].reshape(-1)
            w, *_ = np.linalg.lstsq(Phi, q, rcond=None)
            assert np.max(np.abs(Phi @ w - q)) <= 1e-9
    # and the factored product (5) gives the same Bellman backup
    mdp = make_instance("random", seed=4)
    res = dp.optimal(mdp)
    for h in range(mdp.H):
        fact = np.asarray(mdp.R[h]) + np.asarray(mdp.phi) @ (np.asarray(mdp.mu[h]).T @ res.V[h + 1])
        np.testing.assert_allclose(fact, res.Q[h], atol=1e-12)


def test_icvar_q_star_is_not_linear_in_phi_on_a_random_instance():
    mdp = make_instance("random", seed=4, S=30, A=4, d=5, H=4)
    Phi = np.asarray(mdp.phi).reshape(-1, mdp.d)
    q = dp.optimal(mdp, 0.2).Q[0].reshape(-1)
    w, *_ = np.linalg.lstsq(Phi, q, rcond=None)
    assert np.max(np.abs(Phi @ w - q)) > 1e-3


def test_stochastic_policy_value_is_linear_in_the_last_step_mixture_and_matches_deterministic():
    mdp = make_instance("random", seed=6, S=10, A=3, d=4, H=4)
    rng = np.random.default_rng(0)
    pi = rng.integers(0, mdp.A, size=(mdp.H, mdp.S))
    onehot = np.eye(mdp.A)[pi]
    for a in (1.0, 0.3):
        np.testing.assert_allclose(dp.policy_value(mdp, onehot, a), dp.policy_value(mdp, pi, a), atol=1e-12)
    # risk-neutral: value of a stochastic policy = Σ_{s,a} occupancy * r
    probs = rng.dirichlet(np.ones(mdp.A), size=(mdp.H, mdp.S))
    occ = dp.occupancy(mdp, probs)
    assert dp.initial_value(mdp, dp.policy_value(mdp, probs)) == pytest.approx(
        float(np.sum(occ * np.asarray(mdp.R))), abs=1e-12
    )


def test_performance_difference_identity_checks_the_regret():
    """V*_1 − V^π_1 = E_π Σ_h [V*_h(s_h) − Q*_h(s_h,a_h)] (spec §7), via occupancy measures."""
    mdp = make_instance("random", seed=8, S=20, A=4, d=5, H=6, uniform_init=True)
    opt = dp.optimal(mdp)
    rng = np.random.default_rng(1)
    pols = rng.integers(0, mdp.A, size=(5, mdp.H, mdp.S))
    reg = dp.regret(mdp, pols)
    for k in range(5):
        occ = dp.occupancy(mdp, pols[k])
        gap = opt.V[:-1, :, None] - opt.Q
        assert reg[k] == pytest.approx(float(np.sum(occ * gap)), abs=1e-10)


@pytest.mark.parametrize("alpha", [1.0, 0.25])
def test_regret_kernel_matches_policy_values_and_is_zero_for_pi_star(alpha):
    mdp = make_instance("random", seed=9, S=15, A=3, d=4, H=5)
    opt = dp.optimal(mdp, alpha)
    rng = np.random.default_rng(2)
    pols = rng.integers(0, mdp.A, size=(6, mdp.H, mdp.S))
    pols[0] = opt.pi
    reg = dp.regret(mdp, pols, alpha)
    v_star = dp.initial_value(mdp, opt.V)
    for k in range(6):
        assert reg[k] == pytest.approx(v_star - dp.initial_value(mdp, dp.policy_value(mdp, pols[k], alpha)), abs=1e-12)
    assert reg[0] == pytest.approx(0.0, abs=1e-12)
    assert np.all(reg >= -1e-12)
    probs = np.eye(mdp.A)[pols]
    np.testing.assert_allclose(dp.regret(mdp, probs, alpha), reg, atol=1e-12)


def test_safe_risky_risk_neutral_optimum_has_positive_cvar_regret():
    mdp = make_instance("safe-risky", p_c=0.1, H=5)
    neutral = dp.optimal(mdp)
    cv = dp.optimal(mdp, 0.2)
    assert neutral.pi[0, 0] == 1 and cv.pi[0, 0] == 0  # risky vs safe at the start
    assert dp.regret(mdp, neutral.pi[None], 0.2)[0] > 0.5


@pytest.mark.parametrize(
    ("call", "word"),
    [
        (lambda m: dp.optimal(m, 0.0), "alpha"),
        (lambda m: dp.optimal(m, 1.2), "alpha"),
        (lambda m: dp.optimal(m, 0.5, operator="mean"), "operator"),
        (lambda m: dp.optimal(m, 1.0, operator="median"), "operator"),
        (lambda m: dp.policy_value(m, np.zeros((2, 2), int)), "pi"),
        (lambda m: dp.policy_value(m, np.full((m.H, m.S), 7)), "pi"),
        (lambda m: dp.policy_value(m, np.full((m.H, m.S), 0.5)), "pi"),
        (lambda m: dp.policy_value(m, np.full((m.H, m.S, m.A), 0.7)), "pi"),
        (lambda m: dp.regret(m, np.zeros((3, m.H)), 1.0), "policies"),
        (lambda m: dp.regret(m, np.full((3, m.H, m.S), -1), 1.0), "policies"),
        (lambda m: dp.initial_value(m, np.zeros((m.H + 1, m.S + 1))), "V"),
        (lambda m: dp.optimal("not an mdp"), "mdp"),
    ],
)
def test_dp_bad_input_raises_value_error_naming_the_argument(call, word):
    mdp = make_instance("tabular", seed=0, S=3, A=2, H=3)
    with pytest.raises(ValueError, match=word):
        call(mdp)


def test_regret_caches_v_star_per_alpha_without_mixing_them():
    mdp = make_instance("safe-risky", p_c=0.2, H=4)
    pi = dp.optimal(mdp).pi[None]
    assert dp.regret(mdp, pi, 1.0)[0] == pytest.approx(0.0, abs=1e-12)
    r_cvar = dp.regret(mdp, pi, 0.3)[0]
    expected = dp.initial_value(mdp, dp.optimal(mdp, 0.3).V) - dp.initial_value(mdp, dp.policy_value(mdp, pi[0], 0.3))
    assert r_cvar == pytest.approx(expected, abs=1e-12) and r_cvar > 0
    assert dp.regret(mdp, pi, 1.0)[0] == pytest.approx(0.0, abs=1e-12)
