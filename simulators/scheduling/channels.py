"""Markov channels and the per-packet success model of the scheduling system (RSD4 spec §1.4-1.5).

Channel states are 1..N_c (larger is worse). Every user runs an independent Markov chain on the same
(or its own) kernel. The kernel is either drawn as in the released code (rows U(0,1)^{N_c},
normalised) or given by the user, and can be made "sticky" by RSD4 spec eq. (4).
"""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = [
    "success_prob",
    "random_kernel",
    "sticky_kernel",
    "validate_kernel",
    "stationary_distribution",
    "sample_channel_paths",
    "markov_paths",
    "initial_law",
]


def success_prob(e: np.ndarray | float, c: np.ndarray | float, d: np.ndarray | float) -> np.ndarray:
    """Per-packet success probability, RSD4 spec eq. (5).

    ``p(e, c, d) = 2 / (1 + exp(-2 e / (d^3 c))) - 1 = tanh(e / kappa)`` with ``kappa = d^3 c``.
    Broadcasts over its arguments; ``c`` is the channel state in 1..N_c (not 0-based).
    """
    kappa = np.asarray(d, dtype=float) ** 3 * np.asarray(c, dtype=float)
    return np.tanh(np.asarray(e, dtype=float) / kappa)


def random_kernel(rng: np.random.Generator, n_states: int) -> np.ndarray:
    """The released code's kernel: each row U(0,1)^{N_c}, normalised to sum to one."""
    if int(n_states) < 1:
        raise ValueError(f"n_channels must be a positive integer, got {n_states}")
    R = rng.uniform(0.0, 1.0, size=(int(n_states), int(n_states)))
    return R / R.sum(axis=1, keepdims=True)


def sticky_kernel(R: np.ndarray, rho: float) -> np.ndarray:
    """RSD4 spec eq. (4): ``P_rho = rho I + (1 - rho) R`` (rho = 0 is the code's kernel)."""
    rho = float(rho)
    if not 0.0 <= rho <= 1.0:
        raise ValueError(f"rho (channel stickiness) must be in [0, 1], got {rho}")
    R = validate_kernel(R)
    eye = np.eye(R.shape[-1])
    return rho * eye + (1.0 - rho) * R


def validate_kernel(P: np.ndarray, name: str = "channel_kernel") -> np.ndarray:
    """Check that ``P`` is a row-stochastic (N_c, N_c) or (N, N_c, N_c) array and return it as float."""
    P = np.asarray(P, dtype=float)
    if P.ndim not in (2, 3) or P.shape[-1] != P.shape[-2] or P.shape[-1] < 1:
        raise ValueError(f"{name} must have shape (N_c, N_c) or (n_users, N_c, N_c), got {P.shape}")
    if not np.all(np.isfinite(P)) or np.any(P < 0):
        raise ValueError(f"{name} must have finite non-negative entries")
    if not np.allclose(P.sum(axis=-1), 1.0, atol=1e-9):
        raise ValueError(f"{name} rows must sum to 1 (row sums {P.sum(axis=-1).ravel()[:4]}...)")
    return P


def stationary_distribution(P: np.ndarray) -> np.ndarray:
    """Stationary law pi of a row-stochastic kernel (batched over leading axes): pi P = pi.

    Solved as the least-squares solution of ``[(P^T - I); 1^T] pi = [0; 1]``, which is exact for an
    irreducible chain; for a reducible one it returns one stationary law.
    """
    P = validate_kernel(P, "kernel")
    batch = P.reshape(-1, P.shape[-1], P.shape[-1])
    n = P.shape[-1]
    out = np.empty((batch.shape[0], n))
    for b, K in enumerate(batch):
        A = np.vstack([K.T - np.eye(n), np.ones((1, n))])
        rhs = np.zeros(n + 1)
        rhs[-1] = 1.0
        pi = np.linalg.lstsq(A, rhs, rcond=None)[0]
        pi = np.clip(pi, 0.0, None)
        out[b] = pi / pi.sum()
    return out.reshape(P.shape[:-1])


def sample_channel_paths(
    rng: np.random.Generator,
    kernels: np.ndarray,
    length: int,
    start: str = "uniform",
) -> np.ndarray:
    """Sample independent channel paths, one per user, as 1-based states of shape (N, length).

    ``kernels`` has shape (N, N_c, N_c). ``start`` is ``"uniform"`` (the code) or ``"stationary"``.
    The paths never depend on actions, so the environment draws them in full at reset.
    """
    kernels = validate_kernel(kernels)
    if kernels.ndim != 3:
        raise ValueError("kernels must have shape (n_users, N_c, N_c)")
    cum = np.cumsum(kernels, axis=-1)
    cum[..., -1] = 1.0
    c0cum = np.cumsum(initial_law(kernels, start), axis=-1)
    c0cum[:, -1] = 1.0
    return markov_paths(cum, c0cum, rng.random((kernels.shape[0], int(length))))


def initial_law(kernels: np.ndarray, start: str) -> np.ndarray:
    """Law of c_i(0), shape (N, N_c): uniform (the code) or stationary."""
    n, nc = kernels.shape[0], kernels.shape[-1]
    if start == "uniform":
        return np.full((n, nc), 1.0 / nc)
    if start == "stationary":
        return stationary_distribution(kernels)
    raise ValueError(f"channel_start must be 'uniform' or 'stationary', got {start!r}")


@nb.njit(cache=True)
def markov_paths(cum, c0cum, u):
    """Inverse-CDF Markov chain sampling: state(t) = #{c : u_t > cum[state(t-1), c]}, 1-based output."""
    n, length = u.shape
    nc = cum.shape[-1]
    paths = np.empty((n, length), dtype=np.int64)
    for i in range(n):
        s = 0
        while s < nc - 1 and u[i, 0] > c0cum[i, s]:
            s += 1
        paths[i, 0] = s + 1
        for t in range(1, length):
            prev = s
            s = 0
            while s < nc - 1 and u[i, t] > cum[i, prev, s]:
                s += 1
            paths[i, t] = s + 1
    return paths
