"""The approximate (grid) CVaR operator of ICVaR-L and its error bound (spec §5.3, eq. 22-27, §7).

Design after Chen et al. 2024; not a transcription. The paper's algorithm box is not available to us
(spec §5.2); this is the library's design of "an efficient approximation of the CVaR operator".

For a value V in [0, H] with CDF F, eq. (22) writes the lower-tail CVaR as a one-dimensional concave
maximisation that only needs F:

    CVaR_alpha(V) = sup_{x in [0,H]} { x - alpha^-1 int_0^x F(u) du }                          (22)

On a threshold grid U = {u_0 = 0 < ... < u_J = H} the integral becomes a left Riemann sum:

    C_hat = max_j { u_j - alpha^-1 sum_{i<j} (u_{i+1} - u_i) F_i }                              (25)

Guarantees (checked by ``tests/provable/test_cvar_approx.py``), with eps the largest grid spacing:

* exact F on the grid:          -eps <= C_hat - CVaR <= eps / alpha;
* exact-support grid (every support point of V is a grid point): C_hat == CVaR (0 error);
* a lower CDF F- <= F (the optimistic estimate of eq. 24):
  -eps <= C_hat(F-) - CVaR <= alpha^-1 (eps + sum_{i<J} (u_{i+1}-u_i)(F_i - F-_i))
  <= alpha^-1 (eps + H * max_i (F_i - F-_i)), which is eq. (27) with max_i(F_i - F-_i) = 2 beta_F ||phi||.

Exact CVaR itself is model maths and lives in ``simulators.cvar`` (spec §5.1); this module never
recomputes it.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = [
    "uniform_grid",
    "support_grid",
    "grid_spacing",
    "cdf_on_grid",
    "lower_cdf",
    "grid_cvar",
    "optimistic_grid_cvar_from_kernel",
    "optimistic_kernel",
    "grid_error_bound",
]


def _check_alpha(alpha: float) -> float:
    alpha = float(alpha)
    if not (0.0 < alpha <= 1.0) or math.isnan(alpha):
        raise ValueError(f"alpha must lie in (0, 1], got {alpha!r}")
    return alpha


def _check_H(H: float) -> float:
    H = float(H)
    if not (H > 0.0) or not math.isfinite(H):
        raise ValueError(f"H must be a positive finite number, got {H!r}")
    return H


def _check_grid(grid: np.ndarray) -> np.ndarray:
    grid = np.asarray(grid, dtype=np.float64)
    if grid.ndim != 1 or grid.size < 2:
        raise ValueError(f"grid must be a 1-D array of at least 2 thresholds, got shape {grid.shape}")
    if not np.all(np.isfinite(grid)):
        raise ValueError("grid must be finite")
    if grid[0] != 0.0:
        raise ValueError(f"grid must start at u_0 = 0, got {grid[0]!r}")
    if np.any(np.diff(grid) <= 0.0):
        raise ValueError("grid must be strictly increasing")
    return grid


def uniform_grid(H: float, eps: float) -> np.ndarray:
    """Uniform threshold grid 0 = u_0 < ... < u_J = H with spacing at most ``eps`` (spec §5.3).

    J = ceil(H / eps) and u_j = j H / J, so every cell has the same width H / J <= eps.
    """
    H = _check_H(H)
    eps = float(eps)
    if not (eps > 0.0) or not math.isfinite(eps):
        raise ValueError(f"eps must be a positive finite number, got {eps!r}")
    J = max(1, int(math.ceil(H / eps - 1e-12)))
    return np.linspace(0.0, H, J + 1)


def support_grid(values: np.ndarray, H: float) -> np.ndarray:
    """Exact-support grid: the sorted distinct values of V in (0, H) plus the endpoints 0 and H (spec §5.3).

    On this grid eq. (25) with the exact CDF is the exact CVaR (F is constant between grid points and
    the concave objective of eq. (22) is maximised at a support point).
    """
    H = _check_H(H)
    v = np.asarray(values, dtype=np.float64).ravel()
    if not np.all(np.isfinite(v)):
        raise ValueError("values must be finite")
    if v.size and (v.min() < 0.0 or v.max() > H):
        raise ValueError(f"values must lie in [0, H] = [0, {H}], got range [{v.min()}, {v.max()}]")
    inner = np.unique(v)
    inner = inner[(inner > 0.0) & (inner < H)]
    return np.concatenate(([0.0], inner, [H]))


def grid_spacing(grid: np.ndarray) -> float:
    """eps of a grid: its largest spacing max_j (u_{j+1} - u_j)."""
    return float(np.max(np.diff(_check_grid(grid))))


def cdf_on_grid(values: np.ndarray, probs: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Exact CDF F(u_j) = P(V <= u_j) on the grid (spec eq. 21 with the true kernel).

    values: (n,) support values of V; probs: (..., n) probabilities (batched over leading axes);
    returns (..., J+1).
    """
    v = np.asarray(values, dtype=np.float64)
    p = np.asarray(probs, dtype=np.float64)
    grid = _check_grid(grid)
    if v.ndim != 1:
        raise ValueError(f"values must be 1-D, got shape {v.shape}")
    if p.shape[-1:] != v.shape:
        raise ValueError(f"probs last axis must match values: {p.shape} vs {v.shape}")
    order = np.argsort(v, kind="stable")
    csum = np.cumsum(p[..., order], axis=-1)
    counts = np.searchsorted(v[order], grid, side="right")
    padded = np.concatenate([np.zeros(p.shape[:-1] + (1,)), csum], axis=-1)
    return padded[..., counts]


def lower_cdf(F_hat: np.ndarray, width: np.ndarray | float, ones: np.ndarray | None = None) -> np.ndarray:
    """Optimistic lower CDF of eq. (24): clip(F_hat - width, 0, 1), running max over j, F-_J = 1.

    F_hat: (..., J+1) estimates of F(u_j); width: broadcastable to F_hat[..., 0] (beta_F ||phi||).
    ones: optional boolean mask (J+1,) of grid points where F is known to be exactly 1 (u_j at or above
    the largest possible value); F- is set to 1 there, which keeps F- <= F.
    """
    F = np.asarray(F_hat, dtype=np.float64)
    w = np.asarray(width, dtype=np.float64)[..., None]
    out = np.clip(F - w, 0.0, 1.0)
    out = np.maximum.accumulate(out, axis=-1)
    out[..., -1] = 1.0
    if ones is not None:
        out[..., np.asarray(ones, dtype=bool)] = 1.0
    return out


@njit(cache=True)
def _grid_cvar_rows(F: np.ndarray, grid: np.ndarray, inv_alpha: float) -> np.ndarray:
    """Scan of eq. (25) over rows of F (N, J+1)."""
    n, m = F.shape
    out = np.empty(n)
    for r in range(n):
        best = grid[0]
        acc = 0.0
        for j in range(1, m):
            acc += (grid[j] - grid[j - 1]) * F[r, j - 1]
            val = grid[j] - inv_alpha * acc
            if val > best:
                best = val
        out[r] = best
    return out


def grid_cvar(F: np.ndarray, grid: np.ndarray, alpha: float) -> np.ndarray | float:
    """Grid CVaR operator of eq. (25): max_j { u_j - alpha^-1 sum_{i<j} (u_{i+1}-u_i) F_i }.

    F: (..., J+1) CDF values (or a lower CDF) on ``grid``; batched over leading axes. The last column
    F_J never enters the sum. Returns a float for 1-D F, else an array of shape F.shape[:-1].
    """
    alpha = _check_alpha(alpha)
    grid = _check_grid(grid)
    F = np.asarray(F, dtype=np.float64)
    if F.shape[-1:] != grid.shape:
        raise ValueError(f"F last axis must match the grid: {F.shape} vs {grid.shape}")
    if np.any(np.isnan(F)):
        raise ValueError("F must not contain NaN")
    rows = np.ascontiguousarray(F.reshape(-1, grid.size))
    out = _grid_cvar_rows(rows, grid, 1.0 / alpha).reshape(F.shape[:-1])
    return float(out) if out.ndim == 0 else out


@njit(cache=True)
def optimistic_kernel(
    p_hat: np.ndarray,
    order: np.ndarray,
    counts: np.ndarray,
    grid: np.ndarray,
    width: np.ndarray,
    inv_alpha: float,
    saturate: bool,
) -> np.ndarray:
    """Numba kernel of :func:`optimistic_grid_cvar_from_kernel` (no validation; for hot loops).

    order = argsort(values); counts[j] = #{s' : values[s'] <= u_j}; width (N,); returns (N,).
    """
    n, S = p_hat.shape
    m = grid.size
    out = np.empty(n)
    Fl = np.empty(m)
    for r in range(n):
        # phi^T W_hat[:, j] = sum of p_hat over next states with V <= u_j (cumsum in V-sorted order)
        acc = 0.0
        pos = 0
        run = 0.0
        for j in range(m):
            c = counts[j]
            while pos < c:
                acc += p_hat[r, order[pos]]
                pos += 1
            f = acc - width[r]
            if f < 0.0:
                f = 0.0
            elif f > 1.0:
                f = 1.0
            if saturate and c == S:
                f = 1.0  # every next state has V <= u_j: F(u_j) = 1 exactly
            if f > run:
                run = f
            Fl[j] = run
        Fl[m - 1] = 1.0
        best = grid[0]
        s = 0.0
        for j in range(1, m):
            s += (grid[j] - grid[j - 1]) * Fl[j - 1]
            val = grid[j] - inv_alpha * s
            if val > best:
                best = val
        out[r] = best
    return out


def optimistic_grid_cvar_from_kernel(
    p_hat: np.ndarray,
    values: np.ndarray,
    grid: np.ndarray,
    width: np.ndarray | float,
    alpha: float,
    *,
    saturate: bool = True,
) -> np.ndarray:
    """Fast path of spec §5.3, steps 2-4, fused: eq. (23)-(25) from a signed next-state vector.

    p_hat: (N, S) rows phi(s,a)^T mu_hat_h (signed, need not sum to 1); values: (S,) V_hat_{h+1};
    width: (N,) beta_F ||phi||_{Lambda^-1}. Cumulative sums of p_hat in V-sorted order give
    phi^T W_hat at the grid points without forming the level-set targets Y; then eq. (24) (subtract,
    clip, running max, F-_J = 1) and the scan (25). Cost O(N (S + J)).
    saturate: set F-_j = 1 at every u_j >= max(values), where F(u_j) = 1 exactly (ICVaR-L's refinement;
    equals ``lower_cdf(..., ones=grid >= values.max())``).
    """
    alpha = _check_alpha(alpha)
    grid = _check_grid(grid)
    p = np.ascontiguousarray(p_hat, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    w = np.ascontiguousarray(np.broadcast_to(np.asarray(width, dtype=np.float64), (p.shape[0],)))
    if p.ndim != 2 or v.shape != (p.shape[1],):
        raise ValueError(f"p_hat must be (N, S) and values (S,), got {p.shape} and {v.shape}")
    order = np.argsort(v, kind="stable")
    counts = np.searchsorted(v[order], grid, side="right").astype(np.int64)
    return optimistic_kernel(p, order.astype(np.int64), counts, grid, w, 1.0 / alpha, bool(saturate))


def grid_error_bound(
    alpha: float,
    eps: float,
    *,
    H: float | None = None,
    cdf_gap: float = 0.0,
) -> tuple[float, float]:
    """Error bound (lo, hi) with lo <= C_hat - CVaR_alpha <= hi (spec §7 "grid operator", eq. 27).

    eps: the largest grid spacing (0 for an exact-support grid). With the exact CDF (cdf_gap = 0):
    (-eps, eps / alpha). With a lower CDF F- <= F and cdf_gap >= max_j (F_j - F-_j) (eq. 27 takes
    cdf_gap = 2 beta_F ||phi||_{Lambda^-1}): (-eps, (eps + H cdf_gap) / alpha); H is then required.
    """
    alpha = _check_alpha(alpha)
    eps = float(eps)
    if not (eps >= 0.0) or not math.isfinite(eps):
        raise ValueError(f"eps must be a finite number >= 0, got {eps!r}")
    cdf_gap = float(cdf_gap)
    if not (cdf_gap >= 0.0) or not math.isfinite(cdf_gap):
        raise ValueError(f"cdf_gap must be a finite number >= 0, got {cdf_gap!r}")
    extra = 0.0
    if cdf_gap > 0.0:
        if H is None:
            raise ValueError("H is required when cdf_gap > 0 (eq. 27: the gap is integrated over [0, H])")
        extra = _check_H(H) * cdf_gap
    return -eps, (eps + extra) / alpha
