"""Exact CVaR (spec eqs. (16)-(18)) against the cvxpy LP oracle, its properties (spec §7), and its errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulators import cvar
from simulators.cvar_lp import cvar_lp_dual, cvar_lp_primal
from simulators.risk import cvar_numpy_reference, cvar_sup_scan

alphas = st.floats(min_value=1e-3, max_value=1.0)


@st.composite
def distributions(draw, max_atoms: int = 10, lo: float = -5.0, hi: float = 5.0):
    """(values, probs): atoms with possibly repeated values and zero probabilities."""
    n = draw(st.integers(1, max_atoms))
    values = np.array(draw(st.lists(st.floats(lo, hi), min_size=n, max_size=n)))
    if draw(st.booleans()):  # repeated values
        values = np.round(values)
    w = np.array(draw(st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n)))
    w[w < 1e-3] = 0.0  # exact zeros, no denormal masses
    if w.sum() <= 1e-3:
        w = np.ones(n)
    return values, w / w.sum()


def _mean(v, p):
    return float(np.dot(v, p))


# ---------------------------------------------------------------------------------------------- oracles
@settings(max_examples=25)
@given(distributions(), alphas)
def test_exact_cvar_equals_cvxpy_lp_primal_and_dual(dist, alpha):
    v, p = dist
    exact = cvar(v, p, alpha)
    assert abs(exact - cvar_lp_primal(v, p, alpha)) <= 1e-6
    assert abs(exact - cvar_lp_dual(v, p, alpha)) <= 1e-6


@given(distributions(), alphas)
def test_sort_formula_equals_sup_formula_and_numpy_reference(dist, alpha):
    v, p = dist
    exact = cvar(v, p, alpha)
    assert abs(exact - cvar_sup_scan(v, p, alpha)) <= 1e-9
    assert abs(exact - cvar_numpy_reference(v, p, alpha)) <= 1e-9


def test_three_formulas_agree_to_1e9_on_fixed_draws():
    rng = np.random.default_rng(0)
    for _ in range(20):
        n = int(rng.integers(2, 15))
        v = rng.uniform(0, 10, n)
        p = rng.dirichlet(np.full(n, 0.5))
        a = float(rng.uniform(0.01, 1.0))
        e = cvar(v, p, a)
        assert abs(e - cvar_sup_scan(v, p, a)) <= 1e-9
        assert abs(e - cvar_lp_primal(v, p, a)) <= 1e-9
        assert abs(e - cvar_lp_dual(v, p, a)) <= 1e-9


def test_hand_computed_values():
    # ½δ0 + ½δ1: worst half is the atom 0
    assert cvar([0.0, 1.0], [0.5, 0.5], 0.5) == 0.0
    # worst 75%: (0.5*0 + 0.25*1)/0.75 = 1/3
    assert cvar([1.0, 0.0], [0.5, 0.5], 0.75) == pytest.approx(1 / 3, abs=1e-15)
    # α inside an atom: values 1,2,3 with p .2 .3 .5 at α=.4 -> (.2*1 + .2*2)/.4 = 1.5
    assert cvar([3.0, 1.0, 2.0], [0.5, 0.2, 0.3], 0.4) == pytest.approx(1.5, abs=1e-15)


# ---------------------------------------------------------------------------------------------- properties
@given(distributions(), alphas, st.lists(st.floats(0.0, 3.0), min_size=10, max_size=10))
def test_monotone_in_values(dist, alpha, bumps):
    v, p = dist
    v2 = v + np.array(bumps[: v.size])
    assert cvar(v, p, alpha) <= cvar(v2, p, alpha) + 1e-12


@given(distributions(), alphas, st.floats(-10.0, 10.0))
def test_translation_equivariant(dist, alpha, c):
    v, p = dist
    assert cvar(v + c, p, alpha) == pytest.approx(cvar(v, p, alpha) + c, abs=1e-9)


@given(distributions(), alphas, st.floats(0.0, 10.0))
def test_positively_homogeneous(dist, alpha, t):
    v, p = dist
    assert cvar(t * v, p, alpha) == pytest.approx(t * cvar(v, p, alpha), abs=1e-9)


@given(distributions(), alphas, st.lists(st.floats(-5.0, 5.0), min_size=10, max_size=10))
def test_superadditive_in_values(dist, alpha, other):
    v, p = dist
    w = np.array(other[: v.size])  # Y on the same probability space as X
    assert cvar(v + w, p, alpha) >= cvar(v, p, alpha) + cvar(w, p, alpha) - 1e-9


@given(distributions(), alphas, st.lists(st.floats(-5.0, 5.0), min_size=10, max_size=10), st.floats(0.0, 1.0))
def test_concave_in_values(dist, alpha, other, lam):
    v, p = dist
    w = np.array(other[: v.size])
    lhs = cvar(lam * v + (1 - lam) * w, p, alpha)
    assert lhs >= lam * cvar(v, p, alpha) + (1 - lam) * cvar(w, p, alpha) - 1e-9


@given(distributions(), alphas, st.lists(st.floats(0.0, 1.0), min_size=10, max_size=10), st.floats(0.0, 1.0))
def test_convex_in_the_distribution(dist, alpha, wq, lam):
    v, p = dist
    q = np.array(wq[: v.size]) + 1e-3
    q /= q.sum()
    mix = lam * p + (1 - lam) * q
    assert cvar(v, mix, alpha) <= lam * cvar(v, p, alpha) + (1 - lam) * cvar(v, q, alpha) + 1e-9


def test_counterexample_to_concavity_in_the_distribution():
    """Spec §7: ½δ_0 + ½δ_1 at α = ½ has CVaR 0 < ½ = ½CVaR(δ_0) + ½CVaR(δ_1)."""
    v = np.array([0.0, 1.0])
    d0, d1 = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    mix = cvar(v, 0.5 * d0 + 0.5 * d1, 0.5)
    assert mix == 0.0
    assert 0.5 * cvar(v, d0, 0.5) + 0.5 * cvar(v, d1, 0.5) == 0.5
    assert mix < 0.5


@given(distributions())
def test_alpha_one_is_the_mean(dist):
    v, p = dist
    assert cvar(v, p, 1.0) == pytest.approx(_mean(v, p), abs=1e-12)


@given(distributions())
def test_small_alpha_is_the_minimum_of_the_support(dist):
    v, p = dist
    support_min = float(v[p > 0].min())
    alpha = 0.5 * float(p[p > 0].min())
    assert cvar(v, p, alpha) == pytest.approx(support_min, abs=1e-12)
    assert cvar(v, p, 1e-12) == pytest.approx(support_min, abs=1e-12)


@given(distributions(), alphas, alphas)
def test_cvar_below_mean_and_nondecreasing_in_alpha(dist, a1, a2):
    v, p = dist
    lo, hi = min(a1, a2), max(a1, a2)
    assert cvar(v, p, lo) <= cvar(v, p, hi) + 1e-12
    assert cvar(v, p, hi) <= _mean(v, p) + 1e-12


@given(distributions(lo=0.0, hi=4.0), alphas, st.lists(st.floats(0.0, 1.0), min_size=10, max_size=10))
def test_lipschitz_in_values_and_in_distribution(dist, alpha, wq):
    v, p = dist
    H = 4.0
    v2 = np.clip(v + np.linspace(-0.3, 0.3, v.size), 0.0, H)
    assert abs(cvar(v, p, alpha) - cvar(v2, p, alpha)) <= np.max(np.abs(v - v2)) + 1e-12
    q = np.array(wq[: v.size]) + 1e-3
    q /= q.sum()
    assert abs(cvar(v, p, alpha) - cvar(v, q, alpha)) <= H / alpha * np.abs(p - q).sum() + 1e-9


# ---------------------------------------------------------------------------------------------- batching
def test_batched_equals_loop_of_single_calls():
    rng = np.random.default_rng(1)
    v = rng.normal(size=(3, 4, 7))
    p = rng.dirichlet(np.ones(7), size=(3, 4))
    a = rng.uniform(0.05, 1.0, size=(3, 4))
    out = cvar(v, p, a)
    assert out.shape == (3, 4)
    for i in range(3):
        for j in range(4):
            assert out[i, j] == pytest.approx(cvar(v[i, j], p[i, j], a[i, j]), abs=1e-14)
    # shared value vector (sorted once) against broadcast rows
    shared = cvar(v[0, 0], p, 0.3)
    rows = cvar(np.broadcast_to(v[0, 0], p.shape), p, 0.3)
    np.testing.assert_allclose(shared, rows, atol=1e-14)
    assert isinstance(cvar(v[0, 0], p[0, 0], 0.3), float)


# ---------------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("values", "probs", "alpha", "word"),
    [
        ([1.0, 2.0], [0.5, 0.5], 0.0, "alpha"),
        ([1.0, 2.0], [0.5, 0.5], 1.5, "alpha"),
        ([1.0, 2.0], [0.5, 0.5], -0.1, "alpha"),
        ([1.0, 2.0], [0.5, 0.5], float("nan"), "alpha"),
        ([1.0, 2.0], [1.5, -0.5], 0.5, "probs"),
        ([1.0, 2.0], [0.5, 0.6], 0.5, "probs"),
        ([1.0, 2.0], [0.5, float("nan")], 0.5, "probs"),
        ([1.0, float("nan")], [0.5, 0.5], 0.5, "values"),
        ([1.0, 2.0, 3.0], [0.5, 0.5], 0.5, "probs"),
        ([], [], 0.5, "values"),
        ("abc", [1.0], 0.5, "values"),
    ],
)
def test_bad_input_raises_value_error_naming_the_argument(values, probs, alpha, word):
    with pytest.raises(ValueError, match=word):
        cvar(values, probs, alpha)


def test_batch_shape_mismatch_names_the_arguments():
    with pytest.raises(ValueError, match="broadcast"):
        cvar(np.zeros((3, 2)), np.full((4, 2), 0.5), 0.5)


def test_check_false_skips_entry_checks_but_gives_the_same_values():
    rng = np.random.default_rng(3)
    v = rng.normal(size=(50, 9))
    p = rng.dirichlet(np.ones(9), size=50)
    np.testing.assert_array_equal(cvar(v, p, 0.3, check=False), cvar(v, p, 0.3))
    with pytest.raises(ValueError, match="alpha"):
        cvar(v, p, 0.0, check=False)
