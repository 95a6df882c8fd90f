"""The grid CVaR operator of spec eq. (25) against the exact CVaR (spec §7 "grid operator", eq. 27)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from provable.cvar_approx import (
    cdf_on_grid,
    grid_cvar,
    grid_error_bound,
    grid_spacing,
    lower_cdf,
    optimistic_grid_cvar_from_kernel,
    support_grid,
    uniform_grid,
)
from simulators.risk import cvar

TOL = 1e-12


def _distribution(seed: int, n: int, H: float, atoms_on_grid: np.ndarray | None = None):
    rng = np.random.default_rng(seed)
    if atoms_on_grid is not None:
        values = rng.choice(atoms_on_grid, size=n)
    else:
        values = rng.uniform(0.0, H, size=n)
        if n > 1:  # some mass at the ends and some repeated atoms, the cases a grid can get wrong
            values[0] = 0.0
            values[-1] = H
            values[rng.integers(n)] = values[rng.integers(n)]
    probs = rng.dirichlet(np.full(n, 0.5))
    probs[rng.random(n) < 0.2] = 0.0
    if probs.sum() == 0.0:
        probs[0] = 1.0
    probs /= probs.sum()
    return values, probs


alphas = st.one_of(st.just(1.0), st.floats(min_value=1e-3, max_value=1.0))
sizes = st.integers(min_value=1, max_value=40)
horizons = st.integers(min_value=1, max_value=10)
seeds = st.integers(min_value=0, max_value=2**31 - 1)


@given(alpha=alphas, n=sizes, H=horizons, J=st.integers(min_value=1, max_value=60), seed=seeds)
def test_uniform_grid_within_stated_bound(alpha: float, n: int, H: int, J: int, seed: int) -> None:
    """With the exact CDF: -eps <= C_hat - CVaR <= eps / alpha (spec §7)."""
    values, probs = _distribution(seed, n, H)
    grid = uniform_grid(H, H / J)
    eps = grid_spacing(grid)
    assert eps <= H / J + 1e-12 and len(grid) == J + 1
    c_hat = grid_cvar(cdf_on_grid(values, probs, grid), grid, alpha)
    lo, hi = grid_error_bound(alpha, eps)
    err = c_hat - cvar(values, probs, alpha)
    assert lo - TOL * H / alpha <= err <= hi + TOL * H / alpha


@given(alpha=alphas, n=sizes, H=horizons, seed=seeds)
def test_exact_support_grid_is_exact(alpha: float, n: int, H: int, seed: int) -> None:
    values, probs = _distribution(seed, n, H)
    grid = support_grid(values, H)
    c_hat = grid_cvar(cdf_on_grid(values, probs, grid), grid, alpha)
    assert abs(c_hat - cvar(values, probs, alpha)) <= 1e-12 * max(1.0, H / alpha)


@given(alpha=alphas, n=sizes, H=horizons, J=st.integers(min_value=2, max_value=30), seed=seeds)
def test_atoms_on_a_coarse_grid_are_exact(alpha: float, n: int, H: int, J: int, seed: int) -> None:
    """Any grid that contains the support is exact (F is constant between grid points)."""
    grid = uniform_grid(H, H / J)
    values, probs = _distribution(seed, n, H, atoms_on_grid=grid)
    c_hat = grid_cvar(cdf_on_grid(values, probs, grid), grid, alpha)
    assert abs(c_hat - cvar(values, probs, alpha)) <= 1e-12 * max(1.0, H / alpha)


@given(
    alpha=alphas,
    n=sizes,
    H=horizons,
    J=st.integers(min_value=1, max_value=40),
    width=st.floats(min_value=0.0, max_value=0.5),
    seed=seeds,
)
def test_optimistic_lower_cdf_within_eq27(
    alpha: float, n: int, H: int, J: int, width: float, seed: int
) -> None:
    """If |F_hat - F| <= w then F- <= F, C_hat(F-) >= C_hat(F) >= CVaR - eps, and eq. (27) holds."""
    values, probs = _distribution(seed, n, H)
    grid = uniform_grid(H, H / J)
    eps = grid_spacing(grid)
    F = cdf_on_grid(values, probs, grid)
    noise = np.random.default_rng(seed + 1).uniform(-width, width, size=F.shape)
    F_low = lower_cdf(F + noise, width)
    assert np.all(F_low <= F + 1e-15)
    assert np.all(np.diff(F_low) >= 0.0) and F_low[-1] == 1.0 and np.all(F_low >= 0.0)
    exact = cvar(values, probs, alpha)
    c_low = grid_cvar(F_low, grid, alpha)
    assert c_low >= grid_cvar(F, grid, alpha) - 1e-12
    lo, hi = grid_error_bound(alpha, eps, H=H, cdf_gap=2.0 * width)
    slack = TOL * H / alpha
    assert lo - slack <= c_low - exact <= hi + slack
    # the data-dependent form: (eps + sum_i du_i (F_i - F-_i)) / alpha
    gap_integral = float(np.sum(np.diff(grid) * (F - F_low)[:-1]))
    assert c_low - exact <= (eps + gap_integral) / alpha + slack


def test_upper_bound_is_attained_at_alpha_one() -> None:
    """A point mass just above 0 with a grid cell [0, eps]: the error is eps - delta, bound eps."""
    H, J, delta = 4.0, 8, 1e-6
    grid = uniform_grid(H, H / J)
    values, probs = np.array([delta]), np.array([1.0])
    err = grid_cvar(cdf_on_grid(values, probs, grid), grid, 1.0) - delta
    assert err == pytest.approx(grid_spacing(grid) - delta, abs=1e-12)
    assert err <= grid_error_bound(1.0, grid_spacing(grid))[1]


@given(
    alpha=alphas,
    S=st.integers(min_value=1, max_value=25),
    H=horizons,
    seed=seeds,
    exact=st.booleans(),
    saturate=st.booleans(),
)
def test_fused_kernel_equals_composition(
    alpha: float, S: int, H: int, seed: int, exact: bool, saturate: bool
) -> None:
    """The fast path (cumsums of a signed p_hat) equals cdf_on_grid -> lower_cdf -> grid_cvar."""
    rng = np.random.default_rng(seed)
    values = np.round(rng.uniform(0.0, H, size=S), 1)  # repeated values on purpose
    p_hat = rng.normal(0.0, 0.4, size=(7, S)) + 1.0 / S  # signed, unnormalised like phi^T mu_hat
    width = rng.uniform(0.0, 0.3, size=7)
    grid = support_grid(values, H) if exact else uniform_grid(H, H / 5)
    fused = optimistic_grid_cvar_from_kernel(p_hat, values, grid, width, alpha, saturate=saturate)
    ones = grid >= values.max() if saturate else None
    plain = grid_cvar(lower_cdf(cdf_on_grid(values, p_hat, grid), width, ones), grid, alpha)
    np.testing.assert_allclose(fused, plain, rtol=0, atol=1e-12)


def test_alpha_one_gives_the_mean_up_to_eps() -> None:
    rng = np.random.default_rng(3)
    values, probs = rng.uniform(0, 5, 30), rng.dirichlet(np.ones(30))
    grid = uniform_grid(5.0, 0.01)
    c = grid_cvar(cdf_on_grid(values, probs, grid), grid, 1.0)
    assert abs(c - values @ probs) <= 0.01


def test_batched_shapes() -> None:
    rng = np.random.default_rng(0)
    values = rng.uniform(0, 3, 6)
    probs = rng.dirichlet(np.ones(6), size=(4, 5))
    grid = support_grid(values, 3.0)
    out = grid_cvar(cdf_on_grid(values, probs, grid), grid, 0.3)
    assert out.shape == (4, 5)
    np.testing.assert_allclose(out, cvar(values, probs, 0.3), atol=1e-12)


@pytest.mark.parametrize("alpha", [0.0, -0.1, 1.5, float("nan")])
def test_bad_alpha(alpha: float) -> None:
    grid = uniform_grid(1.0, 0.5)
    with pytest.raises(ValueError, match="alpha"):
        grid_cvar(np.array([0.0, 0.5, 1.0]), grid, alpha)
    with pytest.raises(ValueError, match="alpha"):
        grid_error_bound(alpha, 0.1)


def test_bad_inputs_name_the_parameter() -> None:
    with pytest.raises(ValueError, match="eps"):
        uniform_grid(1.0, 0.0)
    with pytest.raises(ValueError, match="H"):
        uniform_grid(-1.0, 0.1)
    with pytest.raises(ValueError, match="grid"):
        grid_cvar(np.array([0.0, 1.0]), np.array([0.1, 1.0]), 0.5)
    with pytest.raises(ValueError, match="grid"):
        grid_cvar(np.array([0.0, 1.0, 1.0]), np.array([0.0, 1.0, 1.0]), 0.5)
    with pytest.raises(ValueError, match="F"):
        grid_cvar(np.array([0.0, 1.0]), np.array([0.0, 0.5, 1.0]), 0.5)
    with pytest.raises(ValueError, match="values"):
        support_grid(np.array([0.5, 2.0]), 1.0)
    with pytest.raises(ValueError, match="cdf_gap"):
        grid_error_bound(0.5, 0.1, cdf_gap=-1.0)
    with pytest.raises(ValueError, match="H"):
        grid_error_bound(0.5, 0.1, cdf_gap=0.1)
