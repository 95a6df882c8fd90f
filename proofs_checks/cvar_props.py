"""Properties of the exact CVaR operator and the error of the grid operator (spec §7 "CVaR operator").

Lower-tail CVaR of a discrete V with probabilities p at level α ∈ (0, 1] (spec eq. 16/17). Properties
checked on random distributions (each row reports the trial closest to breaking the property):

- three formulas agree: (16) scanned over support points, (17) by sorting, the LP (18) with cvxpy;
- monotone in V; translation equivariant; positively homogeneous; concave in V, hence superadditive
  (CVaR(V + V') ≥ CVaR(V) + CVaR(V') on one probability space);
- convex in p: CVaR^{tp+(1−t)q}(V) ≤ t CVaR^p(V) + (1−t) CVaR^q(V); and the spec's counterexample to
  concavity in p (½δ₀ + ½δ₁ at α = ½ has CVaR 0 < ½);
- CVaR_α ≤ E_p V; non-decreasing in α; α = 1 is the mean; α below the smallest atom is min over supp p;
- Lipschitz: |ΔCVaR| ≤ ||V − V'||_∞ and |CVaR^p(V) − CVaR^q(V)| ≤ (H/α)||p − q||₁ for V ∈ [0, H];
- grid operator (provable.cvar_approx, spec eq. 25/27): with exact F, −ε ≤ Ĉ − CVaR ≤ ε/α; exact-support
  grid error 0 to 1e-12.

The operator under test is injectable (``cvar_fn(values, probs, alpha)`` with batched leading axes), so a
test can pass a deliberately wrong one (e.g. the upper tail) and see the rows that catch it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from proofs_checks.core import CheckResult

CvarFn = Callable[[np.ndarray, np.ndarray, float], np.ndarray]
SRC = "spec §5.1 eq. (16)-(18), §7; Rockafellar & Uryasev 2000; Acerbi & Tasche 2002"
ALPHAS = (1.0, 0.5, 0.25, 0.1, 0.05, 0.01)


def default_cvar() -> CvarFn:
    from simulators import cvar

    return lambda v, p, a: np.asarray(cvar(v, p, a), dtype=float)


def _draw(rng: np.random.Generator, n: int, m: int, H: float) -> tuple[np.ndarray, np.ndarray]:
    v = H * rng.random((n, m))
    # repeated values and near-degenerate probabilities are where sort-based code breaks
    v[:, m // 2:] = np.round(v[:, m // 2:], 1)
    p = rng.dirichlet(np.full(m, 0.3), size=n)
    return v, p


def _le(lemma: str, inputs: str, lhs: np.ndarray, rhs: np.ndarray, tol: float, case: dict) -> CheckResult:
    """Row for 'lhs ≤ rhs' over a batch: report the trial with the largest lhs − rhs."""
    i = int(np.argmax(lhs - rhs))
    return CheckResult(lemma, inputs, float(lhs[i]), float(rhs[i]), "le", tol, SRC,
                       {k: (np.asarray(v)[i] if np.ndim(v) and np.shape(v)[0] == lhs.size else v)
                        for k, v in case.items()})


def _eq(lemma: str, inputs: str, lhs: np.ndarray, rhs: np.ndarray, tol: float, case: dict) -> CheckResult:
    i = int(np.argmax(np.abs(lhs - rhs)))
    return CheckResult(lemma, inputs, float(lhs[i]), float(rhs[i]), "eq", tol, SRC,
                       {k: (np.asarray(v)[i] if np.ndim(v) and np.shape(v)[0] == lhs.size else v)
                        for k, v in case.items()})


def run(rng: np.random.Generator, quick: bool = False, cvar_fn: CvarFn | None = None,
        with_lp: bool = True, with_grid: bool = True) -> list[CheckResult]:
    """Every CVaR property over α ∈ :data:`ALPHAS` and support sizes m ∈ {2, 5, 20}."""
    f = default_cvar() if cvar_fn is None else cvar_fn
    n = 200 if quick else 2000
    H = 5.0
    out: list[CheckResult] = []
    for m in (2, 5, 20):
        for alpha in ALPHAS:
            tag = f"m={m} alpha={alpha} n={n}"
            v, p = _draw(rng, n, m, H)
            w, _ = _draw(rng, n, m, H)
            q = rng.dirichlet(np.full(m, 0.3), size=n)
            c = f(v, p, alpha)
            case = {"values": v, "probs": p, "alpha": alpha}
            mean = (v * p).sum(-1)
            # monotone: V <= V + |W|
            out.append(_le("cvar-monotone", tag, c, f(v + np.abs(w), p, alpha), 1e-12, case))
            shift = rng.normal(size=(n, 1)) * 3
            out.append(_eq("cvar-translation", tag, f(v + shift, p, alpha), c + shift[:, 0], 1e-10, case))
            t = rng.random((n, 1)) * 4
            out.append(_eq("cvar-pos-homogeneous", tag, f(t * v, p, alpha), t[:, 0] * c, 1e-10, case))
            out.append(_le("cvar-superadditive", tag, c + f(w, p, alpha), f(v + w, p, alpha), 1e-10,
                           {**case, "values2": w}))
            lam = rng.random((n, 1))
            out.append(_le("cvar-convex-in-p", tag, f(v, lam * p + (1 - lam) * q, alpha),
                           lam[:, 0] * c + (1 - lam[:, 0]) * f(v, q, alpha), 1e-10, {**case, "probs2": q}))
            out.append(_le("cvar<=mean", tag, c, mean, 1e-12, case))
            if alpha < 1.0:
                out.append(_le("cvar-nondecreasing-in-alpha", tag, c, f(v, p, min(1.0, 2 * alpha)), 1e-12, case))
            out.append(_le("cvar-lipschitz-V", tag, np.abs(f(v + w - H / 2, p, alpha) - c),
                           np.abs(w - H / 2).max(-1), 1e-10, case))
            out.append(_le("cvar-lipschitz-p", tag, np.abs(f(v, q, alpha) - c),
                           (H / alpha) * np.abs(p - q).sum(-1), 1e-10, {**case, "probs2": q}))
        # limits
        v, p = _draw(rng, n, m, H)
        out.append(_eq("cvar(alpha=1)=mean", f"m={m} n={n}", f(v, p, 1.0), (v * p).sum(-1), 1e-12,
                       {"values": v, "probs": p}))
        tiny = 0.5 * float(p.min())
        supp_min = np.where(p > 0, v, np.inf).min(-1)
        out.append(_eq("cvar(alpha->0)=min-supp", f"m={m} n={n} alpha={tiny:.2e}", f(v, p, tiny), supp_min,
                       1e-9, {"values": v, "probs": p, "alpha": tiny}))
    out.append(concavity_counterexample(f))
    if with_lp:
        out += three_formulas(rng, f, 20 if quick else 100)
    if with_grid:
        out += grid_operator(rng, f, n)
    return out


def concavity_counterexample(f: CvarFn) -> CheckResult:
    """½δ₀ + ½δ₁ at α = ½: CVaR of the mixture (0) is below the mixture of CVaRs (½), so CVaR is NOT concave
    in p; the row checks that the operator shows this strict gap (lhs ≤ rhs − ¼)."""
    v = np.array([[0.0, 1.0]])
    mix = f(v, np.array([[0.5, 0.5]]), 0.5)[0]
    parts = 0.5 * f(v, np.array([[1.0, 0.0]]), 0.5)[0] + 0.5 * f(v, np.array([[0.0, 1.0]]), 0.5)[0]
    return CheckResult("cvar-not-concave-in-p", "1/2 d0 + 1/2 d1, alpha=1/2", float(mix), float(parts - 0.25),
                       "le", 1e-12, SRC, {"values": v, "alpha": 0.5})


def three_formulas(rng: np.random.Generator, f: CvarFn, n: int) -> list[CheckResult]:
    """(16) scanned and (17) sorted (the operator under test) agree to 1e-9; the LP (18), primal and dual, to
    1e-6 (the conic solver's tolerance)."""
    from simulators import cvar_lp
    from simulators.risk import cvar_sup_scan

    out = []
    for alpha in (0.5, 0.1, 0.03):
        v, p = _draw(rng, n, 7, 5.0)
        c = f(v, p, alpha)
        scan = np.array([cvar_sup_scan(v[i], p[i], alpha) for i in range(n)])
        out.append(_eq("cvar-sort(17)=scan(16)", f"m=7 alpha={alpha} n={n}", c, scan, 1e-9,
                       {"values": v, "probs": p, "alpha": alpha}))
        k = min(n, 10)
        for form, solver in (("primal", cvar_lp.cvar_lp_primal), ("dual", cvar_lp.cvar_lp_dual)):
            lp = np.array([solver(v[i], p[i], alpha) for i in range(k)])
            out.append(_eq(f"cvar-sort(17)=LP(18,{form})", f"m=7 alpha={alpha} n={k}", c[:k], lp, 1e-6,
                           {"values": v[:k], "probs": p[:k], "alpha": alpha}))
    return out


def grid_operator(rng: np.random.Generator, f: CvarFn, n: int) -> list[CheckResult]:
    """Grid operator with exact F: −ε ≤ Ĉ − CVaR ≤ ε/α; exact-support grid: error 0 (spec §7)."""
    from provable import cvar_approx as ca

    out = []
    H = 5.0
    n = min(n, 300)
    for alpha in (1.0, 0.25, 0.05):
        for eps in (0.5, 0.05):
            v, p = _draw(rng, n, 10, H)
            grid = ca.uniform_grid(H, eps)
            exact = f(v, p, alpha)
            approx = np.array([ca.grid_cvar(ca.cdf_on_grid(v[i], p[i], grid), grid, alpha) for i in range(n)])
            tag = f"alpha={alpha} eps={eps} n={n}"
            case = {"values": v, "probs": p, "alpha": alpha, "eps": eps}
            out.append(_le("grid-cvar-upper(eps/alpha)", tag, approx - exact,
                           np.full(n, ca.grid_spacing(grid) / alpha), 1e-12, case))
            out.append(_le("grid-cvar-lower(-eps)", tag, exact - approx, np.full(n, ca.grid_spacing(grid)),
                           1e-12, case))
        v, p = _draw(rng, n, 10, H)
        exact = f(v, p, alpha)
        approx = np.empty(n)
        for i in range(n):
            g = ca.support_grid(v[i], H)
            approx[i] = ca.grid_cvar(ca.cdf_on_grid(v[i], p[i], g), g, alpha)
        out.append(_eq("grid-cvar-exact-support", f"alpha={alpha} n={n}", approx, exact, 1e-12,
                       {"values": v, "probs": p, "alpha": alpha}))
    return out
