"""Growth checks of measured regret against the stated bounds (spec §6). Each says plainly if it holds.

* :func:`slope_check` — fitted log-log slope of the median cumulative regret against K over the fit
  window K >= max(10 d H, K_max / 10), with a bootstrap CI over seeds (B = 1000 resamples of the seeds,
  slope of the median curve refitted, 95% percentile interval). Read as an UPPER ENVELOPE (spec eq. (31)):
  holds iff slope <= 1/2 + 1/ln K_max + 0.05. Never a test of slope = 1/2: log factors push local slopes
  above 1/2 and gaps (easy instances) push them far below.
* :func:`ratio_check` — R(K) / B(K) with B the bound's shape (spec §6 (P2)); "stays bounded" means no
  polynomial growth beyond log factors: the log-log slope of the ratio over the fit window is
  <= 1/ln K_max + 0.05. Reports the band [c_lo, c_hi] of the ratio.
* :func:`exponent_check` — d- or H-sweep at fixed K: the fitted exponent of the median regret (with a
  bootstrap CI) next to the theorem's; an upper-bound check (spec §6 "Scaling ratios"): holds iff
  fitted <= theorem + tol (tol = log2(1 + 0.1) ~ 0.14, the spec's (1 + tol) factor per doubling).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["fit_slope", "local_slopes", "bootstrap_slope", "fit_window", "slope_check", "ratio_check",
           "exponent_check", "ENVELOPE_MARGIN"]

ENVELOPE_MARGIN = 0.05
EXPONENT_TOL = math.log2(1.1)


def fit_slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of log y against log x."""
    lx = np.log(np.asarray(x, dtype=float))
    ly = np.log(np.maximum(np.asarray(y, dtype=float), 1e-12))
    if lx.size < 2:
        return float("nan")
    return float(np.polyfit(lx, ly, 1)[0])


def local_slopes(K: np.ndarray, R: np.ndarray) -> np.ndarray:
    """One-octave local slopes s(K) = dlog R / dlog K (spec eq. (31)) at each K >= 2 K[0]."""
    K = np.asarray(K, dtype=float)
    R = np.maximum(np.asarray(R, dtype=float), 1e-12)
    out = np.full(K.shape, np.nan)
    for i, k in enumerate(K):
        j = int(np.searchsorted(K, k / 2.0 - 1e-9))
        if j < i and K[j] > 0:
            out[i] = math.log(R[i] / R[j]) / math.log(k / K[j])
    return out


def fit_window(K: np.ndarray, d: int, H: int) -> np.ndarray:
    """Boolean mask of the fit window K >= max(10 d H, K_max / 10) (spec §6 "Never test s = 0.5")."""
    K = np.asarray(K, dtype=float)
    mask = K >= max(10 * d * H, K.max() / 10.0)
    if mask.sum() < 2:  # too short a sweep: fall back to the last two points
        mask = np.zeros(K.shape, bool)
        mask[-2:] = True
    return mask


def bootstrap_slope(K: np.ndarray, R: np.ndarray, B: int = 1000, seed: int = 0,
                    level: float = 0.95) -> tuple[float, float, float]:
    """Slope of the median curve of R (n_seeds, n_points) against K, with a bootstrap CI over seeds."""
    R = np.atleast_2d(np.asarray(R, dtype=float))
    est = fit_slope(K, np.median(R, axis=0))
    if R.shape[0] < 2:
        return est, est, est
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, R.shape[0], size=(B, R.shape[0]))
    meds = np.median(R[idx], axis=1)  # (B, n_points)
    lx = np.log(np.asarray(K, dtype=float))
    ly = np.log(np.maximum(meds, 1e-12))
    xc = lx - lx.mean()
    slopes = (ly - ly.mean(axis=1, keepdims=True)) @ xc / (xc @ xc)
    a = (1 - level) / 2
    return est, float(np.quantile(slopes, a)), float(np.quantile(slopes, 1 - a))


def _verdict(ok: bool) -> str:
    return "HOLDS" if ok else "DOES NOT HOLD"


def slope_check(algo: str, K: np.ndarray, R: np.ndarray, d: int, H: int, alpha: float = 1.0,
                B: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Upper-envelope test of the fitted log-log slope of cumulative regret against K (spec eq. (31))."""
    K = np.asarray(K, dtype=float)
    R = np.atleast_2d(np.asarray(R, dtype=float))
    m = fit_window(K, d, H)
    est, lo, hi = bootstrap_slope(K[m], R[:, m], B=B, seed=seed)
    env = 0.5 + 1.0 / math.log(K.max()) + ENVELOPE_MARGIN
    loc = local_slopes(K, np.median(R, axis=0))
    loc_w = loc[m & np.isfinite(loc)]
    ok = bool(est <= env)
    return {
        "check": "slope", "algo": algo, "alpha": alpha,
        "K_window": [float(K[m].min()), float(K[m].max())],
        "slope": est, "ci95": [lo, hi], "envelope": env,
        "max_local_slope": float(loc_w.max()) if loc_w.size else None,
        "holds": ok, "ci_upper_within_envelope": bool(hi <= env),
        "statement": (f"{algo} (alpha={alpha:g}): fitted slope of log R vs log K over K in "
                      f"[{K[m].min():.0f}, {K[m].max():.0f}] = {est:.3f} (95% CI {lo:.3f}..{hi:.3f}); "
                      f"upper envelope 1/2 + 1/ln K + {ENVELOPE_MARGIN} = {env:.3f}: {_verdict(ok)}"),
    }


def ratio_check(algo: str, K: np.ndarray, R: np.ndarray, bound: np.ndarray, d: int, H: int,
                bound_name: str, alpha: float = 1.0) -> dict[str, Any]:
    """R(K) / B(K) stays bounded over the fit window (spec §6 (P2) and "Growth check")."""
    K = np.asarray(K, dtype=float)
    R = np.atleast_2d(np.asarray(R, dtype=float))
    ratio = np.median(R, axis=0) / np.asarray(bound, dtype=float)
    m = fit_window(K, d, H)
    s = fit_slope(K[m], ratio[m])
    tol = 1.0 / math.log(K.max()) + ENVELOPE_MARGIN
    ok = bool(s <= tol)
    c_lo, c_hi = float(ratio[m].min()), float(ratio[m].max())
    return {
        "check": "bound_ratio", "algo": algo, "alpha": alpha, "bound": bound_name,
        "K": K.tolist(), "ratio": ratio.tolist(), "band": [c_lo, c_hi], "ratio_slope": s,
        "tolerance": tol, "holds": ok,
        "statement": (f"{algo} (alpha={alpha:g}): R/[{bound_name}] over K in [{K[m].min():.0f}, "
                      f"{K[m].max():.0f}] stays in [{c_lo:.3g}, {c_hi:.3g}], log-log slope {s:.3f} "
                      f"<= {tol:.3f} (log factors only): {_verdict(ok)}"),
    }


def exponent_check(algo: str, var: str, values: np.ndarray, R: np.ndarray, theorem: float,
                   K: int, alpha: float = 1.0, B: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Fitted exponent of R in ``var`` (d or H) at fixed K, vs the theorem's (upper-bound check)."""
    values = np.asarray(values, dtype=float)
    R = np.atleast_2d(np.asarray(R, dtype=float))
    est, lo, hi = bootstrap_slope(values, R, B=B, seed=seed)
    med = np.median(R, axis=0)
    ratios = [float(med[i + 1] / med[i]) for i in range(len(values) - 1)]
    ok = bool(est <= theorem + EXPONENT_TOL)
    return {
        "check": f"{var}_exponent", "algo": algo, "alpha": alpha, "K": int(K), var: values.tolist(),
        "median_regret": med.tolist(), "exponent": est, "ci95": [lo, hi], "theorem": theorem,
        "tolerance": EXPONENT_TOL, "step_ratios": ratios, "holds": ok,
        "statement": (f"{algo} (alpha={alpha:g}, K={K}): regret ~ {var}^{est:.2f} (95% CI {lo:.2f}..{hi:.2f}) "
                      f"vs theorem {var}^{theorem:g}; upper-bound check fitted <= theorem + "
                      f"{EXPONENT_TOL:.2f}: {_verdict(ok)}"),
    }
