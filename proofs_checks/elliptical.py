"""Elliptical-potential lemmas (Abbasi-Yadkori, Pál, Szepesvári, NeurIPS 2011, Lemma 11; spec §7).

With Λ_1 = λI and Λ_{k+1} = Λ_k + x_k x_kᵀ, ||x_k|| ≤ L, u_k = ||x_k||²_{Λ_k^{-1}}:

    Σ_k min(1, u_k) ≤ 2 log(det Λ_{K+1} / λ^d) ≤ 2d log(1 + K L²/(dλ))          spec eq. (32a)
    Σ_k log(1 + u_k) = log det Λ_{K+1} − d log λ            (exact identity)      spec eq. (32b)
    Σ_k min(1, √u_k) ≤ sqrt(2dK log(1 + K L²/(dλ)))                              spec eq. (32c)

plus the weighted version used by weighted ridge regression (x_k = φ_k/σ̄_k, L = max||φ||/min σ̄), the
determinant-doubling count that bounds the number of policy switches (≤ d log₂(1 + K L²/(dλ))), and the
scalar inequality min(1, u) ≤ 2 log(1 + u) on which (32a) rests.

Input families (spec §7 "Setup"): i.i.d. on the sphere of radius L; adaptive worst case (the candidate
with the largest ||x||_{Λ_k^{-1}} among random ones); orthogonal bursts (the basis directions in turn,
each repeated); nearly collinear vectors; growing norms; and feature sequences logged from real runs
(passed in as arrays).

The quadratic form is injectable (``quad``) so that a test can feed a deliberately wrong implementation
(for instance ||x||²_Λ instead of ||x||²_{Λ^{-1}}) and see the check report it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from proofs_checks.core import CheckResult

SOURCE = "Abbasi-Yadkori, Pal, Szepesvari 2011, Lemma 11; spec eq. (32a)-(32c)"

QuadForm = Callable[[np.ndarray, np.ndarray, np.ndarray], float]


def quad_inverse(x: np.ndarray, lam_mat: np.ndarray, lam_inv: np.ndarray) -> float:
    """The correct quadratic form ||x||²_{Λ^{-1}} = xᵀ Λ^{-1} x."""
    return float(x @ lam_inv @ x)


FAMILIES = ("sphere", "adaptive", "orthogonal-bursts", "nearly-collinear", "growing-norms")


def make_sequence(family: str, K: int, d: int, L: float, lam: float, rng: np.random.Generator,
                  candidates: int = 32) -> np.ndarray:
    """A (K, d) sequence with every ||x_k|| ≤ L from one of :data:`FAMILIES`."""
    if family == "sphere":
        x = rng.standard_normal((K, d))
        return L * x / np.linalg.norm(x, axis=1, keepdims=True)
    if family == "adaptive":
        inv = np.eye(d) / lam
        out = np.empty((K, d))
        for k in range(K):
            c = rng.standard_normal((candidates, d))
            c = L * c / np.linalg.norm(c, axis=1, keepdims=True)
            q = np.einsum("ij,jk,ik->i", c, inv, c)
            x = c[int(np.argmax(q))]
            out[k] = x
            v = inv @ x
            inv -= np.outer(v, v) / (1.0 + x @ v)
        return out
    if family == "orthogonal-bursts":
        q, _ = np.linalg.qr(rng.standard_normal((d, d)))
        burst = max(1, K // (4 * d))
        idx = (np.arange(K) // burst) % d
        return L * q[:, idx].T
    if family == "nearly-collinear":
        base = rng.standard_normal(d)
        base /= np.linalg.norm(base)
        x = base + 1e-3 * rng.standard_normal((K, d))
        return L * x / np.linalg.norm(x, axis=1, keepdims=True)
    if family == "growing-norms":
        x = rng.standard_normal((K, d))
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        return x * (L * (np.arange(1, K + 1) / K))[:, None]
    raise ValueError(f"family must be one of {', '.join(FAMILIES)}, got {family!r}")


def potential_terms(xs: np.ndarray, lam: float, quad: QuadForm = quad_inverse) -> tuple[np.ndarray, float]:
    """u_k = quad(x_k; Λ_k) for the sequence, and log det Λ_{K+1} computed directly (Cholesky).

    Λ^{-1} is kept by Sherman–Morrison (spec eq. 34); Λ itself is kept too, so ``quad`` may use either.
    """
    K, d = xs.shape
    lam_mat = lam * np.eye(d)
    lam_inv = np.eye(d) / lam
    u = np.empty(K)
    for k in range(K):
        x = xs[k]
        u[k] = quad(x, lam_mat, lam_inv)
        v = lam_inv @ x
        lam_inv -= np.outer(v, v) / (1.0 + x @ v)
        lam_mat += np.outer(x, x)
    chol = np.linalg.cholesky(lam_mat)
    logdet = 2.0 * float(np.log(np.diag(chol)).sum())
    return u, logdet


def check_sequence(xs: np.ndarray, lam: float, label: str, quad: QuadForm = quad_inverse,
                   L: float | None = None, weighted: bool = False) -> list[CheckResult]:
    """(32a) both forms, (32b) and (32c) on one sequence; ``L`` defaults to max ||x_k||."""
    K, d = xs.shape
    L = float(np.linalg.norm(xs, axis=1).max()) if L is None else float(L)
    u, logdet = potential_terms(xs, lam, quad)
    log_bound = np.log1p(K * L**2 / (d * lam))
    det_form = 2.0 * (logdet - d * np.log(lam))
    pre = "weighted-" if weighted else ""
    case = {"xs": xs, "lam": lam}
    return [
        CheckResult(f"{pre}elliptical-potential(32a,det)", label, float(np.minimum(1.0, u).sum()),
                    det_form, "le", 1e-12, SOURCE, case),
        CheckResult(f"{pre}elliptical-potential(32a)", label, float(np.minimum(1.0, u).sum()),
                    2.0 * d * log_bound, "le", 1e-12, SOURCE, case),
        CheckResult(f"{pre}log-det-identity(32b)", label, float(np.log1p(u).sum()),
                    logdet - d * np.log(lam), "eq", 1e-9, SOURCE, case),
        CheckResult(f"{pre}elliptical-sqrt(32c)", label, float(np.minimum(1.0, np.sqrt(np.maximum(u, 0))).sum()),
                    float(np.sqrt(2.0 * d * K * log_bound)), "le", 1e-12, SOURCE, case),
    ]


def doubling_count(xs: np.ndarray, lam: float) -> int:
    """How often det Λ_k doubles relative to the last switch (the rare-switching rule)."""
    K, d = xs.shape
    lam_inv = np.eye(d) / lam
    logdet = d * np.log(lam)
    last = logdet
    count = 0
    for k in range(K):
        x = xs[k]
        v = lam_inv @ x
        u = float(x @ v)
        lam_inv -= np.outer(v, v) / (1.0 + u)
        logdet += np.log1p(u)
        if logdet - last >= np.log(2.0):
            count += 1
            last = logdet
    return count


def check_doublings(xs: np.ndarray, lam: float, label: str) -> CheckResult:
    """#doublings of det Λ ≤ d log₂(1 + K L²/(dλ)) (bounds the switch count; spec §7)."""
    K, d = xs.shape
    L = float(np.linalg.norm(xs, axis=1).max())
    bound = d * np.log2(1.0 + K * L**2 / (d * lam))
    return CheckResult("det-doublings", label, float(doubling_count(xs, lam)), float(bound), "le", 0.0,
                       "He et al. 2023 rare switching; spec §7", {"xs": xs, "lam": lam})


def check_min_log(u_grid: np.ndarray | None = None) -> CheckResult:
    """min(1, u) ≤ 2 log(1 + u) for u ≥ 0, reported as the largest ratio over a dense grid."""
    u = np.concatenate([[0.0], np.logspace(-12, 6, 20001)]) if u_grid is None else np.asarray(u_grid)
    lhs = np.minimum(1.0, u)
    rhs = 2.0 * np.log1p(u)
    pos = rhs > 0
    worst = int(np.argmax(np.where(pos, lhs / np.where(pos, rhs, 1.0), 0.0)))
    return CheckResult("min(1,u)<=2log(1+u)", "u in [0,1e6]", float(lhs[worst]), float(rhs[worst]), "le",
                       1e-15, "Abbasi-Yadkori et al. 2011, proof of Lemma 11", {"u": u})


def run(rng: np.random.Generator, quick: bool = False, quad: QuadForm = quad_inverse,
        logged: dict[str, np.ndarray] | None = None) -> list[CheckResult]:
    """Every elliptical-potential check over every input family (and logged feature sequences)."""
    K = 500 if quick else 5000
    d, L, lam = 8, 1.0, 1.0
    out: list[CheckResult] = []
    for fam in FAMILIES:
        xs = make_sequence(fam, K, d, L, lam, rng)
        out += check_sequence(xs, lam, f"{fam} K={K} d={d}", quad, L)
        out.append(check_doublings(xs, lam, f"{fam} K={K} d={d}"))
    # weighted version: x_k = phi_k / sigma_k with sigma_k >= 1 drawn heavy-tailed; L = max||phi||/min sigma
    phi = make_sequence("sphere", K, d, L, lam, rng)
    sigma = 1.0 + rng.pareto(1.5, size=K)
    out += check_sequence(phi / sigma[:, None], lam, f"phi/sigma K={K} d={d}", quad,
                          L=float(np.linalg.norm(phi, axis=1).max() / sigma.min()), weighted=True)
    for name, xs in (logged or {}).items():
        out += check_sequence(np.asarray(xs, dtype=float), lam, f"logged {name}", quad)
        out.append(check_doublings(np.asarray(xs, dtype=float), lam, f"logged {name}"))
    out.append(check_min_log())
    return out


def potential_curve(xs: np.ndarray, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """Running Σ_{k≤K} min(1,u_k) and the bound 2d log(1 + K L²/(dλ)) for K = 1..len(xs) (for figures)."""
    K, d = xs.shape
    u, _ = potential_terms(xs, lam)
    L = float(np.linalg.norm(xs, axis=1).max())
    ks = np.arange(1, K + 1)
    return np.cumsum(np.minimum(1.0, u)), 2.0 * d * np.log1p(ks * L**2 / (d * lam))
