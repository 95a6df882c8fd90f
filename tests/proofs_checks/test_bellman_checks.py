"""Bellman identities hold for the exact DP and catch a DP with an off-by-one in the horizon."""

from dataclasses import replace

import numpy as np

from proofs_checks import bellman
from simulators import dp


def test_bellman_identities_hold():
    rows = bellman.run(np.random.default_rng(0), quick=True)
    bad = [r.as_row() for r in rows if not r.holds]
    assert not bad, bad


def test_off_by_one_dp_is_caught():
    def wrong(mdp, alpha=1.0, operator=None):
        res = dp.optimal(mdp, alpha, operator)
        V = res.V.copy()
        V[:-1] = V[1:].copy()  # values shifted by one step
        return replace(res, V=V)

    rows = bellman.run(np.random.default_rng(0), quick=True, optimal_fn=wrong)
    assert any(not r.holds for r in rows if r.lemma == "bellman-optimality(3)")
