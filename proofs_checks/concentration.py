"""Self-normalised concentration bounds, checked by Monte-Carlo coverage (spec §7).

Λ_t = λI + Σ_{i≤t} x_i x_iᵀ, S_t = Σ_{i≤t} x_i η_i, ||x_i|| ≤ L, x_i chosen before η_i is drawn.

Hoeffding type (Abbasi-Yadkori, Pál, Szepesvári 2011, Theorem 1 and Theorem 2), η R-sub-Gaussian:
    ||S_t||²_{Λ_t^{-1}} ≤ 2R² log( det(Λ_t)^{1/2} λ^{-d/2} / δ )                     for all t, w.p. ≥ 1−δ
    ||θ̂_t − θ||_{Λ_t} ≤ R sqrt(2 log(1/δ) + d log(1 + tL²/(dλ))) + √λ ||θ||          (θ̂_t ridge estimate)

Bernstein type (Zhou, Gu, Szepesvári 2021, Theorem 4.1; constants as recalled in the spec), |η| ≤ R,
E[η | F] = 0, E[η² | F] ≤ σ²:
    ||S_t||_{Λ_t^{-1}} ≤ 8σ sqrt(d log(1 + tL²/(dλ)) · log(4t²/δ)) + 4R log(4t²/δ)     for all t, w.p. ≥ 1−δ

Each bound is time-uniform, so a replicate fails if the inequality breaks at ANY t ≤ T. Over N replicates
the empirical failure rate must be ≤ δ + 3 sqrt(δ(1−δ)/N) (one-sided, so loose constants stay safe).
"How loose" is reported as the median and maximum over replicates of max_t (left side / right side)
(as norms, not squared norms).

Replicates are simulated together: Λ_t^{-1} of all N replicates is kept by a batched Sherman–Morrison
update (spec eq. 34).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from proofs_checks.core import CheckResult

Radius = Callable[[np.ndarray, np.ndarray, int], np.ndarray]


def hoeffding_radius(R: float, lam: float, d: int, delta: float) -> Radius:
    """Theorem 1 radius on ||S_t||_{Λ_t^{-1}}: sqrt(2R² (½ log det Λ_t − (d/2) log λ + log 1/δ))."""

    def radius(logdet: np.ndarray, _t: np.ndarray, _dd: int) -> np.ndarray:
        return np.sqrt(2.0 * R**2 * (0.5 * logdet - 0.5 * d * np.log(lam) + np.log(1.0 / delta)))

    return radius


def bernstein_radius(R: float, sigma: float, L: float, lam: float, d: int, delta: float) -> Radius:
    """Theorem 4.1 (Zhou et al. 2021) radius: 8σ sqrt(d log(1+tL²/(dλ)) log(4t²/δ)) + 4R log(4t²/δ)."""

    def radius(_logdet: np.ndarray, t: np.ndarray, _dd: int) -> np.ndarray:
        lg = np.log(4.0 * t**2 / delta)
        return 8.0 * sigma * np.sqrt(d * np.log1p(t * L**2 / (d * lam)) * lg) + 4.0 * R * lg

    return radius


def hoeffding_theta_radius(R: float, L: float, lam: float, d: int, delta: float, theta_norm: float) -> Radius:
    """Theorem 2 radius on ||θ̂_t − θ||_{Λ_t}: R sqrt(2 log 1/δ + d log(1+tL²/(dλ))) + √λ||θ||."""

    def radius(_logdet: np.ndarray, t: np.ndarray, _dd: int) -> np.ndarray:
        return R * np.sqrt(2.0 * np.log(1.0 / delta) + d * np.log1p(t * L**2 / (d * lam))) + np.sqrt(
            lam) * theta_norm

    return radius


def coverage(noise: Callable[[np.random.Generator, tuple[int, ...]], np.ndarray], radius: Radius, *,
             N: int, T: int, d: int, L: float, lam: float, rng: np.random.Generator,
             theta: np.ndarray | None = None, use_inverse: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Simulate N replicates for T steps; return (failed (N,) bool, looseness (N,) = max_t lhs/rhs).

    With ``theta`` the left side is ||θ̂_t − θ||_{Λ_t} = ||S_t − λθ||_{Λ_t^{-1}}; else ||S_t||_{Λ_t^{-1}}.
    ``use_inverse=False`` deliberately measures the norm with Λ_t instead of Λ_t^{-1} (for the tests that
    show a wrong implementation is caught).
    """
    inv = np.broadcast_to(np.eye(d) / lam, (N, d, d)).copy()
    lam_mat = np.broadcast_to(np.eye(d) * lam, (N, d, d)).copy()
    S = np.zeros((N, d))
    logdet = np.full(N, d * np.log(lam))
    failed = np.zeros(N, dtype=bool)
    loose = np.zeros(N)
    shift = 0.0 if theta is None else lam * np.asarray(theta, dtype=float)
    for t in range(1, T + 1):
        x = rng.standard_normal((N, d))
        x *= L / np.linalg.norm(x, axis=1, keepdims=True)
        eta = noise(rng, (N,))
        S += x * eta[:, None]
        v = np.einsum("nij,nj->ni", inv, x)
        u = np.einsum("ni,ni->n", x, v)
        inv -= np.einsum("ni,nj->nij", v, v) / (1.0 + u)[:, None, None]
        logdet += np.log1p(u)
        z = S - shift
        if use_inverse:
            lhs = np.sqrt(np.maximum(np.einsum("ni,nij,nj->n", z, inv, z), 0.0))
        else:
            lam_mat += np.einsum("ni,nj->nij", x, x)
            lhs = np.sqrt(np.einsum("ni,nij,nj->n", z, lam_mat, z))
        rhs = radius(logdet, np.full(N, float(t)), d)
        failed |= lhs > rhs
        np.maximum(loose, lhs / rhs, out=loose)
    return failed, loose


def _row(lemma: str, inputs: str, failed: np.ndarray, loose: np.ndarray, delta: float, source: str,
         case: dict) -> CheckResult:
    N = failed.size
    allowed = delta + 3.0 * np.sqrt(delta * (1.0 - delta) / N)
    return CheckResult(lemma, inputs, float(failed.mean()), float(allowed), "le", 0.0, source, case,
                       {"looseness_median": float(np.median(loose)), "looseness_max": float(loose.max())})


def run(rng: np.random.Generator, quick: bool = False, use_inverse: bool = True) -> list[CheckResult]:
    """Hoeffding (Rademacher and Gaussian noise, both forms) and Bernstein (p = 0.5 and 0.01) coverage."""
    N, T = (300, 400) if quick else (2000, 10_000)
    d, L, lam, delta, R = 4, 1.0, 1.0, 0.05, 1.0
    src_h = "Abbasi-Yadkori et al. 2011, Thm 1/2"
    src_b = "Zhou, Gu, Szepesvari 2021, Thm 4.1 (recalled constants)"
    out: list[CheckResult] = []
    seed = int(rng.integers(2**31))
    noises = {
        "rademacher": lambda g, s: R * (2.0 * g.integers(0, 2, size=s) - 1.0),
        "gaussian": lambda g, s: R * g.standard_normal(s),
    }
    for name, noise in noises.items():
        failed, loose = coverage(noise, hoeffding_radius(R, lam, d, delta), N=N, T=T, d=d, L=L, lam=lam,
                                 rng=np.random.default_rng(seed), use_inverse=use_inverse)
        out.append(_row("hoeffding-self-normalized", f"{name} N={N} T={T} d={d}", failed, loose, delta,
                        src_h, {"seed": seed, "N": N, "T": T, "d": d, "delta": delta}))
    theta = np.full(d, 0.5)
    failed, loose = coverage(noises["rademacher"], hoeffding_theta_radius(R, L, lam, d, delta,
                                                                          float(np.linalg.norm(theta))),
                             N=N, T=T, d=d, L=L, lam=lam, rng=np.random.default_rng(seed + 1), theta=theta,
                             use_inverse=use_inverse)
    out.append(_row("hoeffding-theta-confidence", f"rademacher N={N} T={T} d={d}", failed, loose, delta,
                    src_h, {"seed": seed + 1, "N": N, "T": T, "d": d, "delta": delta}))
    for p in (0.5, 0.01):
        sigma = R * np.sqrt(p * (1.0 - p))
        failed, loose = coverage(lambda g, s, p=p: R * ((g.random(s) < p) - p),
                                 bernstein_radius(R, sigma, L, lam, d, delta), N=N, T=T, d=d, L=L, lam=lam,
                                 rng=np.random.default_rng(seed + 2), use_inverse=use_inverse)
        out.append(_row("bernstein-self-normalized", f"bernoulli p={p} N={N} T={T} d={d}", failed, loose,
                        delta, src_b, {"seed": seed + 2, "N": N, "T": T, "d": d, "delta": delta, "p": p}))
    return out


def radius_ratio(t: float, d: int, sigma_over_R: float = 0.1, delta: float = 0.05, L: float = 1.0,
                 lam: float = 1.0) -> float:
    """Bernstein radius / Hoeffding radius at step t for a well-spread design (log det ≈ d log(1+tL²/(dλ))).

    The spec (§7) asks to assert Bernstein < Hoeffding for σ ≤ R/10 and t ≥ 10³. With the recalled
    constants (8 and 4) this ratio is far above 1 at every feasible t, because the 4R log(4t²/δ) term
    alone exceeds the Hoeffding radius; the ratio is reported, not asserted (see the README).
    """
    R = 1.0
    logdet = d * np.log1p(t * L**2 / (d * lam)) + d * np.log(lam)
    h = hoeffding_radius(R, lam, d, delta)(np.array([logdet]), np.array([t]), d)[0]
    b = bernstein_radius(R, sigma_over_R * R, L, lam, d, delta)(np.array([logdet]), np.array([t]), d)[0]
    return float(b / h)


def hoeffding_critical_delta(*, N: int, T: int, d: int, L: float, lam: float, R: float,
                             rng: np.random.Generator) -> np.ndarray:
    """Per replicate, the critical δ_c: Theorem 1 is violated somewhere in t ≤ T exactly when δ > δ_c.

    ||S_t||²_{Λ_t^{-1}} ≤ 2R²(½ log det Λ_t − (d/2) log λ + log 1/δ) fails iff
    δ > exp(−max_t [||S_t||²/(2R²) − ½ log det Λ_t + (d/2) log λ]); so one simulation gives the failure rate
    at every δ as mean(δ_c < δ) (for the coverage-against-δ figure). Rademacher noise.
    """
    inv = np.broadcast_to(np.eye(d) / lam, (N, d, d)).copy()
    S = np.zeros((N, d))
    logdet = np.full(N, d * np.log(lam))
    worst = np.full(N, -np.inf)
    for _ in range(T):
        x = rng.standard_normal((N, d))
        x *= L / np.linalg.norm(x, axis=1, keepdims=True)
        S += x * (R * (2.0 * rng.integers(0, 2, size=N) - 1.0))[:, None]
        v = np.einsum("nij,nj->ni", inv, x)
        u = np.einsum("ni,ni->n", x, v)
        inv -= np.einsum("ni,nj->nij", v, v) / (1.0 + u)[:, None, None]
        logdet += np.log1p(u)
        q = np.einsum("ni,nij,nj->n", S, inv, S)
        np.maximum(worst, q / (2.0 * R**2) - 0.5 * logdet + 0.5 * d * np.log(lam), out=worst)
    return np.exp(-worst)  # > 1 when the replicate never fails at any δ ≤ 1
