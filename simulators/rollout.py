"""Seeded Numba episode sampling on a :class:`~simulators.linear_mdp.LinearMDP`.

:func:`sample_episodes` rolls out many episodes of a fixed policy in one Numba call (``cache=True``):
s_1 ~ ρ₀, a_h ~ π_h(·|s_h), s_{h+1} ~ P_h(·|s_h,a_h) by inverse-CDF sampling (binary search in the
cumulative rows ``mdp.P_cum``), r_h = R_h(s_h,a_h), or r_h ~ Bernoulli(R_h(s_h,a_h)) when
``mdp.bernoulli_rewards``. All randomness comes from uniforms drawn up front by a
``numpy.random.Generator`` (layout: one for s_1, then three per step: action, next state, reward), so the
same seed gives the same samples whatever the policy type, and the sampler holds no global RNG state.
"""

from __future__ import annotations

from typing import Any

import numba as nb
import numpy as np

from .dp import MODE_DETERMINISTIC, check_policy
from .linear_mdp import LinearMDP


@nb.njit(cache=True)
def _search(cum: np.ndarray, u: float) -> int:
    """Smallest index i with cum[i] > u (cum non-decreasing, cum[-1] = 1, u ∈ [0,1))."""
    lo = 0
    hi = cum.shape[0] - 1
    while lo < hi:
        mid = (lo + hi) >> 1
        if cum[mid] > u:
            hi = mid
        else:
            lo = mid + 1
    return lo


@nb.njit(cache=True)
def rollout_kernel(
    P_cum: np.ndarray,
    R: np.ndarray,
    init_cum: np.ndarray,
    pi_det: np.ndarray,
    pi_cum: np.ndarray,
    stochastic: bool,
    bernoulli: bool,
    u0: np.ndarray,
    u: np.ndarray,
    states: np.ndarray,
    actions: np.ndarray,
    rewards: np.ndarray,
) -> None:
    """Fill ``states`` (n,H+1), ``actions`` (n,H), ``rewards`` (n,H) from uniforms u0 (n,) and u (n,H,3)."""
    n = states.shape[0]
    H = actions.shape[1]
    for e in range(n):
        s = _search(init_cum, u0[e])
        states[e, 0] = s
        for h in range(H):
            if stochastic:
                a = _search(pi_cum[h, s], u[e, h, 0])
            else:
                a = pi_det[h, s]
            r = R[h, s, a]
            if bernoulli:
                r = 1.0 if u[e, h, 2] < r else 0.0
            s = _search(P_cum[h, s, a], u[e, h, 1])
            actions[e, h] = a
            rewards[e, h] = r
            states[e, h + 1] = s


def _cum_rows(p: np.ndarray) -> np.ndarray:
    c = np.cumsum(p, axis=-1)
    c[..., -1] = 1.0
    return np.ascontiguousarray(c)


def _run(
    mdp: LinearMDP, pi: Any, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not isinstance(mdp, LinearMDP):
        raise ValueError(f"mdp must be a simulators.LinearMDP, got {type(mdp).__name__}")
    mode, arr = check_policy(mdp, pi)
    H = mdp.H
    u0 = rng.random(n)
    u = rng.random((n, H, 3))
    states = np.empty((n, H + 1), dtype=np.int64)
    actions = np.empty((n, H), dtype=np.int64)
    rewards = np.empty((n, H), dtype=np.float64)
    if mode == MODE_DETERMINISTIC:
        pi_det, pi_cum, stochastic = arr, np.zeros((1, 1, 1)), False
    else:
        pi_det, pi_cum, stochastic = np.zeros((1, 1), np.int64), _cum_rows(arr), True
    rollout_kernel(
        mdp.P_cum,
        mdp.R,
        _cum_rows(np.asarray(mdp.init)),
        pi_det,
        pi_cum,
        stochastic,
        mdp.bernoulli_rewards,
        u0,
        u,
        states,
        actions,
        rewards,
    )
    return states, actions, rewards


def sample_episodes(
    mdp: LinearMDP, pi: Any, n_episodes: int, seed: int | np.random.Generator = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Roll out ``n_episodes`` of policy ``pi`` ((H,S) int or (H,S,A) probabilities).

    Returns ``states`` (n, H+1) int64, ``actions`` (n, H) int64, ``rewards`` (n, H) float64. ``seed`` is a
    non-negative int or a ``numpy.random.Generator``; the same seed gives the same samples.
    """
    if isinstance(n_episodes, bool) or not isinstance(n_episodes, (int, np.integer)) or n_episodes < 0:
        raise ValueError(f"n_episodes must be a non-negative integer, got {n_episodes!r}")
    if isinstance(seed, np.random.Generator):
        rng = seed
    else:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer or a numpy Generator, got {seed!r}")
        rng = np.random.default_rng(int(seed))
    return _run(mdp, pi, int(n_episodes), rng)


def sample_episode(
    mdp: LinearMDP, pi: Any, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One episode with the caller's generator: ``s`` (H+1,), ``a`` (H,), ``r`` (H,)."""
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    s, a, r = _run(mdp, pi, 1, rng)
    return s[0], a[0], r[0]
