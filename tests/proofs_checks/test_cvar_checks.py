"""CVaR property checks hold for the exact operator and catch an operator with the wrong tail."""

import numpy as np

from proofs_checks import cvar_props
from simulators import cvar


def test_all_cvar_properties_hold():
    rows = cvar_props.run(np.random.default_rng(0), quick=True)
    bad = [r.as_row() for r in rows if not r.holds]
    assert not bad, bad


def test_upper_tail_operator_is_caught():
    def upper(v, p, a):
        return -np.asarray(cvar(-np.asarray(v), p, a))

    rows = cvar_props.run(np.random.default_rng(0), quick=True, cvar_fn=upper, with_lp=False, with_grid=False)
    broken = {r.lemma for r in rows if not r.holds}
    assert {"cvar<=mean", "cvar-superadditive", "cvar-convex-in-p", "cvar-not-concave-in-p"} <= broken


def test_unsorted_formula_is_caught():
    """Applying (17) without sorting the values (a classic bug) breaks monotonicity or the limits."""
    def unsorted(v, p, a):
        v = np.atleast_2d(v)
        p = np.atleast_2d(p)
        c = np.cumsum(p, -1)
        w = np.clip(np.minimum(c, a) - np.concatenate([np.zeros_like(c[:, :1]), c[:, :-1]], -1), 0, None)
        return (w * v).sum(-1) / a

    rows = cvar_props.run(np.random.default_rng(0), quick=True, cvar_fn=unsorted, with_lp=False,
                          with_grid=False)
    assert any(not r.holds for r in rows if r.lemma in ("cvar(alpha->0)=min-supp", "cvar-monotone",
                                                        "cvar<=mean"))
