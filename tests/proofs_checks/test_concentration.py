"""Self-normalised bounds: Monte-Carlo coverage within δ, and a wrong norm is caught."""

import numpy as np

from proofs_checks import concentration


def test_coverage_holds_quick():
    rows = concentration.run(np.random.default_rng(0), quick=True)
    assert len(rows) == 5
    assert all(r.holds for r in rows), [r.as_row() for r in rows]
    hoeff = [r for r in rows if r.lemma == "hoeffding-self-normalized"]
    # the Hoeffding bound is fairly tight: some replicate uses at least half of the radius
    assert all(r.extra["looseness_max"] > 0.5 for r in hoeff)


def test_norm_with_lambda_instead_of_inverse_is_caught():
    rows = concentration.run(np.random.default_rng(0), quick=True, use_inverse=False)
    assert not any(r.holds for r in rows if r.lemma.startswith("hoeffding"))


def test_too_small_radius_is_caught():
    """Dropping the log-det term of Theorem 1 (a classic bug) fails the coverage test."""
    rng = np.random.default_rng(1)

    def radius(logdet, t, d):
        return np.sqrt(2.0 * np.log(1.0 / 0.05)) * np.ones_like(logdet)

    failed, _ = concentration.coverage(lambda g, s: 2.0 * g.integers(0, 2, size=s) - 1.0, radius,
                                       N=200, T=200, d=4, L=1.0, lam=1.0, rng=rng)
    assert failed.mean() > 0.05 + 3 * np.sqrt(0.05 * 0.95 / 200)


def test_critical_delta_agrees_with_direct_coverage():
    kw = dict(N=200, T=150, d=3, L=1.0, lam=1.0)
    crit = concentration.hoeffding_critical_delta(R=1.0, rng=np.random.default_rng(5), **kw)
    for delta in (0.05, 0.3):
        failed, _ = concentration.coverage(lambda g, s: 2.0 * g.integers(0, 2, size=s) - 1.0,
                                           concentration.hoeffding_radius(1.0, 1.0, 3, delta),
                                           rng=np.random.default_rng(5), **kw)
        np.testing.assert_array_equal(failed, crit < delta)


def test_bernstein_vs_hoeffding_ratio_is_reported_not_assumed():
    # with the recalled constants the Bernstein radius is larger than Hoeffding's at feasible t
    assert concentration.radius_ratio(1e3, 4) > 1.0
