"""Exact dynamic programming on a :class:`~simulators.linear_mdp.LinearMDP` (spec §1 and §5.1).

One backward-induction code path with a pluggable next-state operator 𝒯 over s' ~ P_h(·|s,a):

    Q_h(s,a) = r_h(s,a) + 𝒯[V_{h+1}](s,a),   V_{H+1} ≡ 0                                  (2), (3), (19), (20)

- operator ``"mean"``: 𝒯 = E_{P_h(·|s,a)}, the risk-neutral Bellman equations (2)-(3); when the model's
  factors reproduce P to 1e-12 and d < S it is evaluated by the factored product (5),
  [P_h V](s,a) = φ(s,a)ᵀ(μ_hᵀV), O(H·S·A·d) per pass instead of O(H·S²·A);
- operator ``"cvar"``: 𝒯 = CVaR_α^{P_h(·|s,a)} (lower tail, eq. (17)), the iterated-CVaR Bellman
  equations (19)-(20). V_{h+1} is sorted **once per step h**; each (s, a) then costs one cumulative
  pass, so the DP costs O(H(S log S + S²A)) (spec §5.1, "DP cost").

``alpha=1`` selects the mean operator by default; forcing ``operator="cvar"`` at α = 1 reproduces it to
1e-12 (tested). The same kernel computes V*, Q*, π* (greedy, ties to the lowest action index), the exact
value of a deterministic (H,S) or stochastic (H,S,A) policy, and the exact per-episode regret (4) of a
sequence of policies, the latter in one Numba call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numba as nb
import numpy as np

from .linear_mdp import LinearMDP
from .risk import cvar_sorted_kernel

OP_MEAN = 0
OP_CVAR = 1
OP_MEAN_FACTORED = 2  # the mean through the factored product (5), used when the factors are exact
_OPERATORS = {"mean": OP_MEAN, "cvar": OP_CVAR}

# read-only like mdp.mu, so that both paths share one compiled signature of the kernels
_NO_FACTORS = np.zeros((1, 1, 1))
_NO_FACTORS.setflags(write=False)

MODE_OPTIMAL = 0
MODE_DETERMINISTIC = 1
MODE_STOCHASTIC = 2


@dataclass(frozen=True)
class DPResult:
    """Output of backward induction: Q (H,S,A), V (H+1,S) with V[H] = 0, greedy pi (H,S) int64."""

    Q: np.ndarray
    V: np.ndarray
    pi: np.ndarray
    alpha: float
    operator: str


# ---------------------------------------------------------------------------------------------- kernels
@nb.njit(cache=True)
def _next_state_op(
    P_hsa: np.ndarray, phi_sa: np.ndarray, W: np.ndarray, V_next: np.ndarray, order: np.ndarray, op: int, alpha: float
) -> float:
    """The pluggable operator 𝒯 at one (h, s, a): mean (eq. (2)), the same mean by the factored product
    (5) φ(s,a)ᵀ(μ_hᵀV) with W = μ_hᵀV precomputed per h, or CVaR_α by the sorted scan (eq. (17))."""
    if op == OP_MEAN:
        acc = 0.0
        for t in range(V_next.shape[0]):
            acc += P_hsa[t] * V_next[t]
        return acc
    if op == OP_MEAN_FACTORED:
        acc = 0.0
        for i in range(W.shape[0]):
            acc += phi_sa[i] * W[i]
        return acc
    return cvar_sorted_kernel(V_next, P_hsa, order, alpha)


@nb.njit(cache=True)
def _backward(
    P: np.ndarray,
    R: np.ndarray,
    phi: np.ndarray,
    mu: np.ndarray,
    op: int,
    alpha: float,
    mode: int,
    pi_det: np.ndarray,
    pi_prob: np.ndarray,
    full_q: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward induction h = H-1..0, the one code path for every DP in this module.

    mode 0: optimal (V = max_a Q, pi = argmax); mode 1: deterministic policy ``pi_det`` (H,S);
    mode 2: stochastic policy ``pi_prob`` (H,S,A), V = Σ_a π(a|s) Q(s,a). With mode 1 and
    ``full_q=False`` only the played actions' Q entries are computed (the regret fast path).
    ``phi`` (S,A,d) and ``mu`` (H,S,d) are read only by the factored mean (op 2).
    """
    H, S, A, _ = P.shape
    Q = np.zeros((H, S, A))
    V = np.zeros((H + 1, S))
    pi = np.zeros((H, S), dtype=np.int64)
    order = np.arange(S)
    for h in range(H - 1, -1, -1):
        Vn = V[h + 1]
        if op == OP_CVAR:
            order = np.argsort(Vn, kind="quicksort")  # sorted once per h (spec §5.1)
        if op == OP_MEAN_FACTORED:
            d = mu.shape[2]
            W = np.zeros(d)
            for t in range(S):
                for i in range(d):
                    W[i] += mu[h, t, i] * Vn[t]
        else:
            W = np.zeros(1)
        for s in range(S):
            if mode == MODE_DETERMINISTIC and not full_q:
                a = pi_det[h, s]
                Q[h, s, a] = R[h, s, a] + _next_state_op(P[h, s, a], phi[s, a], W, Vn, order, op, alpha)
                V[h, s] = Q[h, s, a]
                pi[h, s] = a
                continue
            best = -np.inf
            best_a = 0
            for a in range(A):
                q = R[h, s, a] + _next_state_op(P[h, s, a], phi[s, a], W, Vn, order, op, alpha)
                Q[h, s, a] = q
                if q > best:
                    best = q
                    best_a = a
            pi[h, s] = best_a
            if mode == MODE_OPTIMAL:
                V[h, s] = best
            elif mode == MODE_DETERMINISTIC:
                V[h, s] = Q[h, s, pi_det[h, s]]
            else:
                acc = 0.0
                for a in range(A):
                    acc += pi_prob[h, s, a] * Q[h, s, a]
                V[h, s] = acc
    return Q, V, pi


@nb.njit(cache=True)
def _regret_kernel(
    P: np.ndarray,
    R: np.ndarray,
    phi: np.ndarray,
    mu: np.ndarray,
    op: int,
    alpha: float,
    init: np.ndarray,
    policies: np.ndarray,
    v_star: float,
) -> np.ndarray:
    """Exact per-episode regret (4): ρ₀ᵀ(V*_1 − V^{π_k}_1) for each deterministic π_k in (K,H,S)."""
    K = policies.shape[0]
    H, S, A, _ = P.shape
    dummy = np.zeros((1, 1, 1))
    out = np.empty(K)
    for k in range(K):
        _, V, _ = _backward(P, R, phi, mu, op, alpha, MODE_DETERMINISTIC, policies[k], dummy, False)
        acc = 0.0
        for s in range(S):
            acc += init[s] * V[0, s]
        out[k] = v_star - acc
    return out


# ---------------------------------------------------------------------------------------------- api
def _check_mdp(mdp: Any) -> LinearMDP:
    if not isinstance(mdp, LinearMDP):
        raise ValueError(f"mdp must be a simulators.LinearMDP, got {type(mdp).__name__}")
    return mdp


def _resolve_operator(alpha: Any, operator: str | None) -> tuple[float, int, str]:
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        raise ValueError(f"alpha must be a number in (0, 1], got {alpha!r}") from None
    if not (0.0 < a <= 1.0):
        raise ValueError(f"alpha must lie in (0, 1], got {alpha!r}")
    if operator is None:
        operator = "mean" if a == 1.0 else "cvar"
    if operator not in _OPERATORS:
        raise ValueError(f"operator must be one of {', '.join(_OPERATORS)} (or None), got {operator!r}")
    if operator == "mean" and a != 1.0:
        raise ValueError(f"operator 'mean' is the risk-neutral DP and needs alpha = 1, got alpha={a}")
    return a, _OPERATORS[operator], operator


def _model_args(mdp: LinearMDP, op: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Switch the mean to the factored product (5) when the factors reproduce P to 1e-12 and d < S."""
    if op == OP_MEAN and mdp.d < mdp.S and mdp.factors_exact:
        return mdp.phi, mdp.mu, OP_MEAN_FACTORED
    return mdp.phi, _NO_FACTORS, op


def check_policy(mdp: LinearMDP, pi: Any, name: str = "pi") -> tuple[int, np.ndarray]:
    """Validate a policy array: (H,S) int actions, or (H,S,A) probabilities. Returns (mode, array)."""
    arr = np.asarray(pi)
    H, S, A = mdp.H, mdp.S, mdp.A
    if arr.shape == (H, S):
        if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.bool_)):
            if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
                raise ValueError(f"{name} of shape (H,S) must hold integer actions, got dtype {arr.dtype}")
        arr = arr.astype(np.int64)
        if np.any(arr < 0) or np.any(arr >= A):
            raise ValueError(f"{name} actions must lie in [0, {A}), got range [{arr.min()}, {arr.max()}]")
        return MODE_DETERMINISTIC, np.ascontiguousarray(arr)
    if arr.shape == (H, S, A):
        arr = arr.astype(np.float64)
        if not np.all(np.isfinite(arr)) or np.any(arr < 0.0):
            raise ValueError(f"{name} probabilities must be finite and non-negative")
        if np.any(np.abs(arr.sum(axis=-1) - 1.0) > 1e-9):
            raise ValueError(f"{name} probabilities must sum to 1 over actions within 1e-9")
        return MODE_STOCHASTIC, np.ascontiguousarray(arr)
    raise ValueError(
        f"{name} must have shape (H,S)=({H},{S}) of actions or (H,S,A)=({H},{S},{A}) of probabilities, got {arr.shape}"
    )


def optimal(mdp: LinearMDP, alpha: float = 1.0, operator: str | None = None) -> DPResult:
    """V*, Q*, π* by backward induction: eq. (3) at α = 1, iterated CVaR (20) at α < 1."""
    mdp = _check_mdp(mdp)
    a, op, name = _resolve_operator(alpha, operator)
    phi, mu, op = _model_args(mdp, op)
    Q, V, pi = _backward(
        mdp.P, mdp.R, phi, mu, op, a, MODE_OPTIMAL, np.zeros((1, 1), np.int64), np.zeros((1, 1, 1)), True
    )
    return DPResult(Q=Q, V=V, pi=pi, alpha=a, operator=name)


def evaluate(mdp: LinearMDP, pi: Any, alpha: float = 1.0, operator: str | None = None) -> DPResult:
    """Q^π and V^π of a policy (eq. (2), or (19) at α < 1); ``pi`` (H,S) int or (H,S,A) probabilities.

    ``result.pi`` is the greedy policy of Q^π (one step of policy improvement), not π itself.
    """
    mdp = _check_mdp(mdp)
    a, op, name = _resolve_operator(alpha, operator)
    mode, arr = check_policy(mdp, pi)
    phi, mu, op = _model_args(mdp, op)
    if mode == MODE_DETERMINISTIC:
        Q, V, g = _backward(mdp.P, mdp.R, phi, mu, op, a, mode, arr, np.zeros((1, 1, 1)), True)
    else:
        Q, V, g = _backward(mdp.P, mdp.R, phi, mu, op, a, mode, np.zeros((1, 1), np.int64), arr, True)
    return DPResult(Q=Q, V=V, pi=g, alpha=a, operator=name)


def policy_value(mdp: LinearMDP, pi: Any, alpha: float = 1.0, operator: str | None = None) -> np.ndarray:
    """Exact V^π (H+1, S) of a deterministic (H,S) or stochastic (H,S,A) step-dependent policy."""
    return evaluate(mdp, pi, alpha, operator).V


def initial_value(mdp: LinearMDP, V: np.ndarray) -> float:
    """ρ₀ᵀ V[0], the value from the initial distribution."""
    V = np.asarray(V, dtype=np.float64)
    if V.ndim != 2 or V.shape[1] != mdp.S:
        raise ValueError(f"V must have shape (H+1, S) with S={mdp.S}, got {V.shape}")
    return float(mdp.init @ V[0])


def _v_star(mdp: LinearMDP, alpha: float, operator: str) -> float:
    """ρ₀ᵀV*_1, cached on the (immutable) model per (alpha, operator): per-episode regret calls stay cheap."""
    cache = mdp.__dict__.setdefault("_v_star_cache", {})
    key = (alpha, operator)
    if key not in cache:
        cache[key] = initial_value(mdp, optimal(mdp, alpha, operator).V)
    return cache[key]


def regret(mdp: LinearMDP, policies: Any, alpha: float = 1.0, operator: str | None = None) -> np.ndarray:
    """Exact per-episode regret (4), ρ₀ᵀ(V*_1 − V^{π_k}_1), of a sequence of policies -> (K,).

    ``policies``: (K,H,S) int (one Numba call, only the played actions are evaluated) or
    (K,H,S,A) probabilities. At α < 1 this is the iterated-CVaR regret (20).
    """
    mdp = _check_mdp(mdp)
    a, op, name = _resolve_operator(alpha, operator)
    arr = np.asarray(policies)
    if arr.ndim not in (3, 4) or arr.shape[1:3] != (mdp.H, mdp.S):
        raise ValueError(f"policies must have shape (K,H,S)=(K,{mdp.H},{mdp.S}) or (K,H,S,A), got {arr.shape}")
    v_star = _v_star(mdp, a, name)
    if arr.shape[0] == 0:
        return np.zeros(0)
    if arr.ndim == 3:
        if not np.issubdtype(arr.dtype, np.integer):
            if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
                raise ValueError(f"policies of shape (K,H,S) must hold integer actions, got dtype {arr.dtype}")
        pol = arr.astype(np.int64)
        if np.any(pol < 0) or np.any(pol >= mdp.A):
            raise ValueError(f"policies actions must lie in [0, {mdp.A}), got range [{pol.min()}, {pol.max()}]")
        phi, mu, op = _model_args(mdp, op)
        return _regret_kernel(mdp.P, mdp.R, phi, mu, op, a, mdp.init, np.ascontiguousarray(pol), v_star)
    out = np.empty(arr.shape[0])
    for k in range(arr.shape[0]):
        out[k] = v_star - initial_value(mdp, policy_value(mdp, arr[k], a, name))
    return out


def occupancy(mdp: LinearMDP, pi: Any) -> np.ndarray:
    """State-action occupancy d_h(s,a) = P_π(s_h = s, a_h = a) from ρ₀ (H,S,A); forward recursion."""
    mdp = _check_mdp(mdp)
    mode, arr = check_policy(mdp, pi)
    if mode == MODE_DETERMINISTIC:
        probs = np.zeros((mdp.H, mdp.S, mdp.A))
        np.put_along_axis(probs, arr[..., None], 1.0, axis=-1)
    else:
        probs = arr
    occ = np.zeros((mdp.H, mdp.S, mdp.A))
    ds = np.asarray(mdp.init, dtype=np.float64).copy()
    for h in range(mdp.H):
        occ[h] = ds[:, None] * probs[h]
        ds = np.einsum("sa,sat->t", occ[h], mdp.P[h])
    return occ
