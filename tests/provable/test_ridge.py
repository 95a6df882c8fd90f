"""The ridge kernel (spec eqs. (34), (32b), (35), §8) against numpy's dense solve."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from provable.ridge import NextStateAggregate, TransitionLog, WeightedRidge


def _dense(X: np.ndarray, w: np.ndarray, lam: float) -> np.ndarray:
    return lam * np.eye(X.shape[1]) + (X.T * w) @ X


@st.composite
def problems(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, float, int]:
    d = draw(st.integers(1, 8))
    n = draw(st.integers(1, 80))
    seed = draw(st.integers(0, 2**31 - 1))
    kind = draw(st.sampled_from(["gaussian", "collinear", "scaled", "simplex"]))
    lam = draw(st.sampled_from([1.0, 1e-2, 1.0 / 100, 10.0]))
    refresh = draw(st.sampled_from([1, 7, 1000]))
    rng = np.random.default_rng(seed)
    if kind == "gaussian":
        X = rng.normal(size=(n, d))
    elif kind == "collinear":  # ill-conditioned: every x close to one direction
        v = rng.normal(size=d)
        X = np.outer(rng.normal(size=n), v) + 1e-6 * rng.normal(size=(n, d))
    elif kind == "scaled":  # ill-conditioned: columns over 6 orders of magnitude
        X = rng.normal(size=(n, d)) * np.logspace(-3, 3, d)
    else:
        X = rng.dirichlet(np.full(d, 0.3), size=n)
    w = rng.uniform(1e-4, 1.0, size=n)
    return X, w, lam, refresh


@given(problems())
def test_inverse_and_logdet_match_numpy(prob: tuple[np.ndarray, np.ndarray, float, int]) -> None:
    X, w, lam, refresh = prob
    d = X.shape[1]
    ridge = WeightedRidge(d, lam, refresh_every=refresh)
    total = d * np.log(lam)
    for x, wi in zip(X, w):
        total += ridge.update(x, wi)  # increments of eq. (32b)
    G = _dense(X, w, lam)
    np.testing.assert_allclose(ridge.gram, G, rtol=1e-12, atol=1e-12 * np.abs(G).max())
    exact = np.linalg.solve(G, np.eye(d))
    cond = np.linalg.cond(G)
    # Sherman-Morrison drift is bounded by conditioning; the refresh keeps well-conditioned cases at 1e-8
    tol = 1e-8 if cond < 1e6 else 1e-8 * cond / 1e6
    assert np.linalg.norm(ridge.inv - exact) <= tol * np.linalg.norm(exact)
    sign, logdet = np.linalg.slogdet(G)
    assert sign > 0
    assert abs(ridge.logdet - logdet) <= 1e-9 * max(1.0, abs(logdet)) + 1e-9 * d
    assert abs(total - ridge.logdet) <= 1e-9 * max(1.0, abs(logdet)) + 1e-9 * d
    b = np.arange(d, dtype=float) + 1.0
    np.testing.assert_allclose(ridge.solve(b), np.linalg.solve(G, b), rtol=max(tol, 1e-9),
                               atol=max(tol, 1e-9) * np.abs(exact @ b).max())
    norms = ridge.norms(X)
    np.testing.assert_allclose(norms**2, np.einsum("nd,de,ne->n", X, exact, X),
                               rtol=max(tol, 1e-9), atol=1e-12)


def test_refresh_interval_and_drift_on_a_long_stream() -> None:
    rng = np.random.default_rng(0)
    ridge = WeightedRidge(10, 1.0)  # refresh every 1000 (spec §8)
    X = rng.dirichlet(np.full(10, 0.3), size=5000)
    w = rng.uniform(1e-3, 1.0, size=5000)
    for x, wi in zip(X, w):
        ridge.update(x, wi)
    assert ridge.n_refresh == 5
    assert ridge.drift() < 1e-8


def test_exact_logdet_identity_32b() -> None:
    """sum log(1 + w ||x||^2_{Lambda^{-1}}) = log det Lambda_{K+1} - d log lambda (spec eq. (32b))."""
    rng = np.random.default_rng(1)
    ridge = WeightedRidge(6, 0.5, refresh_every=10**9)
    acc = 0.0
    for _ in range(400):
        x = rng.normal(size=6) / 3
        q = ridge.norm(x) ** 2
        acc += np.log1p(0.7 * q)
        ridge.update(x, 0.7)
    G = ridge.gram
    assert abs(acc - (np.linalg.slogdet(G)[1] - 6 * np.log(0.5))) <= 1e-9 * abs(acc)


def test_aggregate_equals_explicit_sums() -> None:
    rng = np.random.default_rng(2)
    d, S, n = 4, 7, 200
    X = rng.normal(size=(n, d))
    s2 = rng.integers(0, S, size=n)
    r = rng.uniform(size=n)
    w = rng.uniform(0.1, 1, size=n)
    agg = NextStateAggregate(d, S)
    log = TransitionLog(d, 3)
    phi_next = rng.normal(size=(S, 3, d))
    for i in range(n):
        agg.add(X[i], int(s2[i]), float(r[i]), float(w[i]))
        log.add(X[i], float(w[i]), float(r[i]), phi_next[s2[i]])
    V = rng.uniform(0, 5, size=S)
    explicit = (X * (w * (r + V[s2]))[:, None]).sum(0)
    np.testing.assert_allclose(agg.targets(V, with_reward=True), explicit, rtol=1e-12)
    np.testing.assert_allclose(log.targets(V[s2], with_reward=True), explicit, rtol=1e-12)
    V2 = rng.uniform(size=(S, 3))
    np.testing.assert_allclose(agg.targets(V2), log.targets(V2[s2]), rtol=1e-12)


@pytest.mark.parametrize("kw, msg", [
    (dict(d=0), "d must"), (dict(d=3, lam=0.0), "lam must"), (dict(d=3, refresh_every=0), "refresh_every"),
])
def test_bad_parameters_are_named(kw: dict, msg: str) -> None:
    with pytest.raises(ValueError, match=msg):
        WeightedRidge(**kw)


def test_bad_update_inputs() -> None:
    r = WeightedRidge(3)
    with pytest.raises(ValueError, match="weight"):
        r.update(np.ones(3), -1.0)
    with pytest.raises(ValueError, match="shape"):
        r.update(np.ones(4))
    with pytest.raises(ValueError, match="next_state"):
        NextStateAggregate(3, 5).add(np.ones(3), 5)
