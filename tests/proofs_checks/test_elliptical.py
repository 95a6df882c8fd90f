"""Elliptical-potential checks: they hold on every input family, and they catch a wrong quadratic form."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from proofs_checks import elliptical
from proofs_checks.core import load_case, save_case


@given(seed=st.integers(0, 2**31 - 1), d=st.integers(1, 6), K=st.integers(1, 200),
       L=st.floats(0.1, 10.0), lam=st.floats(0.05, 10.0),
       family=st.sampled_from(elliptical.FAMILIES))
def test_potential_lemmas_hold(seed, d, K, L, lam, family):
    xs = elliptical.make_sequence(family, K, d, L, lam, np.random.default_rng(seed))
    assert np.all(np.linalg.norm(xs, axis=1) <= L * (1 + 1e-12))
    rows = elliptical.check_sequence(xs, lam, family, L=L)
    assert all(r.holds for r in rows), [r.as_row() for r in rows if not r.holds]
    assert elliptical.check_doublings(xs, lam, family).holds


@given(seed=st.integers(0, 2**31 - 1), K=st.integers(5, 200))
def test_weighted_version_holds(seed, K):
    rng = np.random.default_rng(seed)
    phi = elliptical.make_sequence("sphere", K, 4, 1.0, 1.0, rng)
    sigma = 1.0 + rng.pareto(1.0, size=K)
    rows = elliptical.check_sequence(phi / sigma[:, None], 1.0, "w", L=1.0 / sigma.min(), weighted=True)
    assert all(r.holds for r in rows)


def test_log_det_identity_is_exact():
    xs = elliptical.make_sequence("adaptive", 2000, 6, 1.0, 0.5, np.random.default_rng(1))
    row = next(r for r in elliptical.check_sequence(xs, 0.5, "x") if r.lemma.startswith("log-det"))
    assert row.slack < 1e-10


def test_wrong_quadratic_form_is_caught():
    """A bonus computed with Λ instead of Λ^{-1} violates the potential bound and the identity."""
    rng = np.random.default_rng(0)

    def wrong(x, lam_mat, lam_inv):
        return float(x @ lam_mat @ x)

    rows = elliptical.run(rng, quick=True, quad=wrong)
    broken = {r.lemma for r in rows if not r.holds}
    assert "elliptical-potential(32a)" in broken
    assert "log-det-identity(32b)" in broken


def test_min_log_inequality_and_a_false_variant():
    assert elliptical.check_min_log().holds
    # the inequality with constant 1 instead of 2 is false (min(1,u) > log(1+u) for all u > 0)
    u = np.logspace(-6, 3, 1000)
    assert np.any(np.minimum(1, u) > np.log1p(u))


def test_failing_case_is_saved_and_reloaded(tmp_path):
    xs = elliptical.make_sequence("sphere", 50, 3, 1.0, 1.0, np.random.default_rng(3))
    row = elliptical.check_sequence(xs, 1.0, "s", quad=lambda x, m, i: 100.0)[1]
    assert not row.holds
    case = load_case(save_case(row, tmp_path))
    np.testing.assert_array_equal(case["xs"], xs)
    assert str(case["_lemma"]) == row.lemma
