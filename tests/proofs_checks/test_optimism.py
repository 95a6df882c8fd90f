"""Optimism check on real LSVI runs: holds at theory constants, fails when the bonus is removed."""

import numpy as np

from proofs_checks import bellman, optimism


def test_optimism_holds_at_theory_constants():
    rows = optimism.run(np.random.default_rng(0), quick=True)
    assert all(r.holds for r in rows), [r.as_row() for r in rows]


def test_optimism_without_bonus_is_caught():
    rows = optimism.run(np.random.default_rng(0), quick=True, hyper=lambda algo: {"bonus_scale": 0.0})
    by = {r.lemma: r for r in rows}
    assert not by["optimism Q>=Q* (lsvi-ucb)"].holds


def test_logged_features_have_unit_norm_bound():
    logged = optimism.logged_features(1, quick=True)
    assert len(logged) >= 2
    for xs in logged.values():
        assert xs.ndim == 2 and np.all(np.linalg.norm(xs, axis=1) <= 1 + 1e-12)


def test_harness_regret_equals_independent_sum():
    row = bellman.harness_regret(3, 40)
    assert row.holds, row.as_row()
    assert row.lhs > 0
