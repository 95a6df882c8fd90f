"""Exact lower-tail CVaR of discrete distributions (spec §5.1, eqs. (16)-(17)).

Rewards are maximised, so CVaR_α is the mean of the worst α-fraction of outcomes:

    CVaR_α(X) = sup_x { x − α^{-1} E[(x − X)^+] }                                   (16)
              = α^{-1} [ Σ_{i<j*} p_(i) v_(i) + (α − c_{j*−1}) v_(j*) ]                (17)

with v_(1) ≤ … ≤ v_(m) sorted, c_j = Σ_{i≤j} p_(i) and j* = min{j : c_j ≥ α}. (17) costs one sort and
one cumulative pass, O(m log m); the kernels below are Numba (cache=True) and batched over leading axes.
Independent rows use a weighted quickselect of the α-quantile instead of a full sort (expected O(m));
rows that share one value vector (the DP's case) sort it once and scan each row.

Public entry point: :func:`cvar` (validated; ``simulators.cvar``). The Numba kernels
:func:`cvar_sorted_kernel` and :func:`cvar_rows_kernel` are for other hot loops (the DP of
``simulators.dp`` sorts V_{h+1} once per step and calls the sorted scan for every (s, a)).
:func:`cvar_sup_scan` evaluates (16) directly over the support points, an independent formula for tests;
the cvxpy LP (18) lives in ``simulators.cvar_lp``.
"""

from __future__ import annotations

from typing import Any

import numba as nb
import numpy as np

#: tolerance on Σ p = 1 for validated input
PROB_SUM_TOL = 1e-8


@nb.njit(cache=True)
def cvar_sorted_kernel(values: np.ndarray, probs: np.ndarray, order: np.ndarray, alpha: float) -> float:
    """Eq. (17) given ``order`` = argsort(values): one cumulative pass, O(m).

    The mass α is taken relative to Σ p (so a row summing to 1 ± 1e-15 is handled consistently);
    atoms with zero probability contribute nothing, so α → 0 gives the minimum of the support.
    """
    m = values.shape[0]
    total = 0.0
    for i in range(m):
        total += probs[i]
    budget = alpha * total
    remaining = budget
    acc = 0.0
    last = 0.0
    for j in range(m):
        i = order[j]
        p = probs[i]
        if p <= 0.0:
            continue
        last = values[i]
        if p >= remaining:
            acc += remaining * values[i]
            remaining = 0.0
            break
        acc += p * values[i]
        remaining -= p
    if remaining > 0.0:  # round-off: the whole support was used
        acc += remaining * last
    return acc / budget


@nb.njit(cache=True)
def cvar_select_kernel(
    values: np.ndarray, probs: np.ndarray, alpha: float, vbuf: np.ndarray, pbuf: np.ndarray
) -> float:
    """Eq. (17) without a full sort: weighted quickselect of the α-quantile, expected O(m).

    Three-way partitions (median-of-three pivot) of a copy of the atoms in ``vbuf``/``pbuf`` (length ≥ m)
    keep only the part that holds the α·Σp mass boundary; the atoms strictly below it are summed once.
    Same result as :func:`cvar_sorted_kernel` up to summation order (≤ 1e-15 relative).
    """
    m = values.shape[0]
    total = 0.0
    for i in range(m):
        vbuf[i] = values[i]
        pbuf[i] = probs[i]
        total += probs[i]
    budget = alpha * total
    rem = budget
    acc = 0.0
    top = -np.inf  # largest value with positive mass consumed so far (round-off fallback)
    lo = 0
    hi = m
    while hi > lo:
        a = vbuf[lo]
        b = vbuf[(lo + hi - 1) >> 1]
        c = vbuf[hi - 1]
        if a > b:
            a, b = b, a
        if b > c:
            b = c
            if a > b:
                b = a
        pivot = b
        # Dutch-flag partition of [lo, hi): [lo, lt) < pivot, [lt, i) == pivot, [gt, hi) > pivot
        lt = lo
        i = lo
        gt = hi
        mass_less = 0.0
        sum_less = 0.0
        mass_eq = 0.0
        while i < gt:
            v = vbuf[i]
            if v < pivot:
                p = pbuf[i]
                mass_less += p
                sum_less += p * v
                vbuf[i] = vbuf[lt]
                pbuf[i] = pbuf[lt]
                vbuf[lt] = v
                pbuf[lt] = p
                lt += 1
                i += 1
            elif v > pivot:
                gt -= 1
                p = pbuf[i]
                vbuf[i] = vbuf[gt]
                pbuf[i] = pbuf[gt]
                vbuf[gt] = v
                pbuf[gt] = p
            else:
                mass_eq += pbuf[i]
                i += 1
        if mass_less >= rem:
            hi = lt
        elif mass_less + mass_eq >= rem:
            acc += sum_less + (rem - mass_less) * pivot
            rem = 0.0
            break
        else:
            acc += sum_less + mass_eq * pivot
            rem -= mass_less + mass_eq
            if mass_eq > 0.0:
                top = pivot
            elif mass_less > 0.0:
                top = max(top, pivot)
            lo = gt
    if rem > 0.0 and top > -np.inf:  # round-off: the whole support was used
        acc += rem * top
    return acc / budget


@nb.njit(cache=True)
def cvar_rows_kernel(values: np.ndarray, probs: np.ndarray, alphas: np.ndarray) -> np.ndarray:
    """Batched eq. (17): rows of ``values``/``probs`` (B, m), one α per row (B,) -> (B,).

    Each row uses the expected-O(m) weighted quickselect :func:`cvar_select_kernel` (measured faster than
    an argsort per row at every m from 4 to 200, ``benchmarks/bench_cvar.py``); no allocation per row.
    """
    B, m = values.shape
    out = np.empty(B)
    vbuf = np.empty(m)
    pbuf = np.empty(m)
    for b in range(B):
        out[b] = cvar_select_kernel(values[b], probs[b], alphas[b], vbuf, pbuf)
    return out


@nb.njit(cache=True)
def cvar_shared_values_kernel(values: np.ndarray, probs: np.ndarray, alphas: np.ndarray) -> np.ndarray:
    """Batched eq. (17) when every row shares one value vector (m,): sort once, scan B rows of probs."""
    order = np.argsort(values, kind="quicksort")
    B = probs.shape[0]
    out = np.empty(B)
    for b in range(B):
        out[b] = cvar_sorted_kernel(values, probs[b], order, alphas[b])
    return out


def _validate(values: Any, probs: Any, alpha: Any, check: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    try:
        v = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("values must be a numeric array") from None
    try:
        p = np.asarray(probs, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("probs must be a numeric array") from None
    try:
        a = np.asarray(alpha, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"alpha must be a number in (0, 1], got {alpha!r}") from None
    if v.ndim == 0 or v.shape[-1] == 0:
        raise ValueError(f"values must have at least one atom along the last axis, got shape {v.shape}")
    if p.ndim == 0 or p.shape[-1] != v.shape[-1]:
        raise ValueError(f"probs must have the same last-axis length as values ({v.shape[-1]}), got shape {p.shape}")
    if np.any(np.isnan(a)) or np.any(a <= 0.0) or np.any(a > 1.0):
        raise ValueError(f"alpha must lie in (0, 1], got {alpha!r}")
    if not check:
        return v, p, a
    if not np.all(np.isfinite(v)):
        raise ValueError("values contains NaN or infinite entries")
    if not np.all(np.isfinite(p)):
        raise ValueError("probs contains NaN or infinite entries")
    if np.any(p < 0.0):
        raise ValueError(f"probs must be non-negative, got min {p.min():.3g}")
    s = p.sum(axis=-1)
    if np.any(np.abs(s - 1.0) > PROB_SUM_TOL):
        bad = s.flat[int(np.argmax(np.abs(s - 1.0)))] if s.ndim else float(s)
        raise ValueError(f"probs must sum to 1 along the last axis (within {PROB_SUM_TOL:g}), got a sum of {bad:.12g}")
    return v, p, a


def cvar(values: Any, probs: Any, alpha: Any, *, check: bool = True) -> float | np.ndarray:
    """Exact lower-tail CVaR_α of the discrete distribution Σ_i probs[i] δ_{values[i]} (eq. (17)).

    ``values`` and ``probs`` have the atoms on the last axis and broadcast over leading (batch) axes;
    ``alpha`` is a float in (0, 1] or an array broadcasting against the batch shape. Returns a float
    for a single distribution, else an array of the batch shape. Bad input (α outside (0, 1], negative
    or non-normalised probabilities, shape mismatch, NaN) raises ValueError naming the argument.
    ``check=False`` skips the O(size) checks of the entries (NaN, sign, normalisation; shapes and α are
    still checked) for hot loops whose probabilities are valid by construction.
    """
    v, p, a = _validate(values, probs, alpha, check)
    m = v.shape[-1]
    try:
        batch = np.broadcast_shapes(v.shape[:-1], p.shape[:-1], a.shape)
    except ValueError:
        raise ValueError(
            f"values {v.shape}, probs {p.shape} and alpha {a.shape} do not broadcast over the leading axes"
        ) from None
    n = int(np.prod(batch)) if batch else 1
    alphas = np.ascontiguousarray(np.broadcast_to(a, batch).reshape(n), dtype=np.float64)
    if v.ndim == 1:
        pr = np.ascontiguousarray(np.broadcast_to(p, (*batch, m)).reshape(n, m))
        out = cvar_shared_values_kernel(np.ascontiguousarray(v), pr, alphas)
    else:
        vr = np.ascontiguousarray(np.broadcast_to(v, (*batch, m)).reshape(n, m))
        pr = np.ascontiguousarray(np.broadcast_to(p, (*batch, m)).reshape(n, m))
        out = cvar_rows_kernel(vr, pr, alphas)
    if not batch:
        return float(out[0])
    return out.reshape(batch)


def cvar_sup_scan(values: Any, probs: Any, alpha: float) -> float:
    """Eq. (16) evaluated directly: max over the support points x ∈ {v_i} of x − α^{-1} E[(x − X)^+].

    The objective is concave and piecewise linear with kinks at the atoms, so its supremum is attained
    at an atom; this is an independent check of (17) (no sorting, O(m²)). Single distribution only.
    """
    v, p, a = _validate(values, probs, alpha)
    if v.ndim != 1 or p.ndim != 1 or a.ndim != 0:
        raise ValueError("cvar_sup_scan takes one distribution: 1-D values and probs, scalar alpha")
    support = v[p > 0.0]
    shortfall = np.maximum(support[:, None] - v[None, :], 0.0) @ p
    return float(np.max(support - shortfall / float(a)))


def cvar_numpy_reference(values: np.ndarray, probs: np.ndarray, alpha: float) -> float:
    """A straightforward per-call numpy implementation of (17), the benchmark's reference."""
    order = np.argsort(values, kind="stable")
    v = values[order]
    p = probs[order]
    c = np.cumsum(p)
    j = int(np.searchsorted(c, alpha * c[-1], side="left"))
    j = min(j, len(v) - 1)
    below = c[j - 1] if j > 0 else 0.0
    return float((np.dot(p[:j], v[:j]) + (alpha * c[-1] - below) * v[j]) / (alpha * c[-1]))
