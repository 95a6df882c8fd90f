"""The independent CVaR oracle for tests: the Rockafellar–Uryasev LP and its dual, solved with cvxpy (eq. (18)).

    primal:  max_{x,z} x − α^{-1} Σ_i p_i z_i   s.t. z_i ≥ x − v_i, z_i ≥ 0
    dual:    min_q Σ_i q_i v_i                   s.t. 0 ≤ q_i ≤ p_i/α, Σ_i q_i = 1      (18)

The primal is (16) with the expectation written out; the dual is the "reweighting with density at most
1/α" form. Both share nothing with the sort formula (17) of :mod:`simulators.risk`, so agreement between
them is a real check. Slow (one solver call per distribution): tests and spot checks only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .risk import _validate


def _solve(problem: Any) -> float:
    import cvxpy as cp

    for solver in ("HIGHS", "CLARABEL", "ECOS", "SCS"):
        if solver in cp.installed_solvers():
            kwargs: dict[str, Any] = {"eps": 1e-10} if solver == "SCS" else {}
            problem.solve(solver=solver, **kwargs)
            break
    else:  # pragma: no cover - cvxpy always ships one of them
        problem.solve()
    if problem.status not in ("optimal", "optimal_inaccurate"):
        raise RuntimeError(f"cvxpy could not solve the CVaR LP: status {problem.status}")
    return float(problem.value)


def _scaled(values: Any, probs: Any, alpha: float) -> tuple[np.ndarray, np.ndarray, float, float, float]:
    v, p, a = _validate(values, probs, alpha)
    if v.ndim != 1 or p.ndim != 1 or a.ndim != 0:
        raise ValueError("the LP oracle takes one distribution: 1-D values and probs, scalar alpha")
    # rescale values to [0, 1] for solver accuracy; CVaR is translation-equivariant and homogeneous
    lo, span = float(v.min()), float(v.max() - v.min())
    span = span if span > 0 else 1.0
    return (v - lo) / span, p / p.sum(), float(a), lo, span


def cvar_lp_primal(values: Any, probs: Any, alpha: float) -> float:
    """CVaR_α by the Rockafellar–Uryasev LP (primal of eq. (18))."""
    import cvxpy as cp

    v, p, a, lo, span = _scaled(values, probs, alpha)
    x = cp.Variable()
    z = cp.Variable(v.shape[0], nonneg=True)
    prob = cp.Problem(cp.Maximize(x - (p @ z) / a), [z >= x - v])
    return lo + span * _solve(prob)


def cvar_lp_dual(values: Any, probs: Any, alpha: float) -> float:
    """CVaR_α by the dual LP of eq. (18): min_q qᵀv over densities 0 ≤ q ≤ p/α, Σq = 1."""
    import cvxpy as cp

    v, p, a, lo, span = _scaled(values, probs, alpha)
    q = cp.Variable(v.shape[0])
    prob = cp.Problem(cp.Minimize(q @ v), [q >= 0, q <= p / a, cp.sum(q) == 1])
    return lo + span * _solve(prob)
