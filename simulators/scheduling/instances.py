"""Scheduling instances: users' delay bounds, weights, distances, arrivals and channel kernels.

An instance fixes everything that RSD4 spec §1.1 draws from ``seed1`` (tau_i, beta_i, d_i, arrival
rates, channel kernel) plus the energy budget E_b (default 0.5 sum_i A_i, spec §1.6). Episode
randomness (arrival sequences, channel paths, transmission outcomes) comes from the environment's
``reset(seed=...)``, never from the instance.

Presets (:func:`make_instance`):
- ``"code"``: the released code's system (N = 4, tau ~ U{1..6}, beta ~ U{1..5}, d ~ U[1, 2],
  Poisson A ~ U{2..5}), with N_c = 4 and stickiness rho = 0 by default;
- ``"bench"``: the reduced benchmark of spec §5 (tau ~ U{1..3}, Poisson A ~ U{1, 2});
- ``"tiny"``: Bernoulli A ~ U(0, 1), tau ~ U{1, 2}: the LP of §3.1 is exact on it (cap 1).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from .arrivals import (
    ArrivalProcess,
    BernoulliArrivals,
    MMPPArrivals,
    PeriodicArrivals,
    PoissonArrivals,
    TraceArrivals,
)
from .channels import random_kernel, stationary_distribution, sticky_kernel, validate_kernel

__all__ = ["SchedulingInstance", "make_instance", "PRESETS", "ARRIVAL_KINDS"]

ARRIVAL_KINDS = ("bernoulli", "poisson", "periodic", "mmpp", "trace")
PRESETS = ("code", "bench", "tiny")


@dataclass
class SchedulingInstance:
    """One multi-user system (RSD4 spec §1.1-1.6). Arrays have one entry per user.

    tau: delay bounds (user i keeps tau_i + 1 counters); beta: weights; dist: distances d_i;
    arrivals: the arrival process; kernels: (N, N_c, N_c) channel kernels; e_max: per-packet energy
    cap; horizon: episode length H; budget: average energy budget E_b per slot; tau_max: the padding
    size of per-user views (counters padded to tau_max + 1).
    """

    tau: np.ndarray
    beta: np.ndarray
    dist: np.ndarray
    arrivals: ArrivalProcess
    kernels: np.ndarray
    e_max: float = 1.0
    horizon: int = 100
    budget: float | None = None
    tau_max: int | None = None
    channel_start: str = "uniform"
    name: str = "custom"
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.tau = np.asarray(self.tau)
        if self.tau.ndim != 1 or self.tau.size < 1:
            raise ValueError(f"tau must be a 1-D array with one delay bound per user, got {self.tau!r}")
        if np.any(self.tau != np.round(self.tau)) or np.any(self.tau < 0):
            raise ValueError(f"tau (delay bounds) must be non-negative integers, got {self.tau}")
        self.tau = self.tau.astype(np.int64)
        n = self.tau.size
        self.beta = np.asarray(self.beta, dtype=float)
        self.dist = np.asarray(self.dist, dtype=float)
        for nm, arr in (("beta", self.beta), ("dist", self.dist)):
            if arr.shape != (n,):
                raise ValueError(f"{nm} must have one entry per user (shape ({n},)), got shape {arr.shape}")
            if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
                raise ValueError(f"{nm} must be finite and positive, got {arr}")
        if not isinstance(self.arrivals, ArrivalProcess):
            raise ValueError("arrivals must be an ArrivalProcess")
        if self.arrivals.n_users != n:
            raise ValueError(f"arrivals describe {self.arrivals.n_users} users but tau has {n}")
        K = validate_kernel(self.kernels, "channel kernel")
        if K.ndim == 2:
            K = np.broadcast_to(K, (n, *K.shape)).copy()
        if K.shape[0] != n:
            raise ValueError(f"per-user channel kernels must have shape ({n}, N_c, N_c), got {K.shape}")
        self.kernels = K
        if not (np.isfinite(self.e_max) and self.e_max > 0):
            raise ValueError(f"e_max must be a positive finite number, got {self.e_max}")
        self.e_max = float(self.e_max)
        if int(self.horizon) != self.horizon or self.horizon < 1:
            raise ValueError(f"horizon must be a positive integer, got {self.horizon}")
        self.horizon = int(self.horizon)
        if self.budget is None:
            self.budget = 0.5 * float(self.arrivals.mean_rates.sum())
        if not (np.isfinite(self.budget) and self.budget >= 0):
            raise ValueError(f"budget (E_b) must be a non-negative finite number, got {self.budget}")
        self.budget = float(self.budget)
        tm = int(self.tau.max()) if self.tau_max is None else int(self.tau_max)
        if tm < int(self.tau.max()):
            raise ValueError(f"tau_max={tm} is smaller than the largest delay bound {int(self.tau.max())}")
        self.tau_max = tm
        if self.channel_start not in ("uniform", "stationary"):
            raise ValueError(f"channel_start must be 'uniform' or 'stationary', got {self.channel_start!r}")
        self._pi = stationary_distribution(self.kernels)

    @property
    def n_users(self) -> int:
        return int(self.tau.size)

    @property
    def n_channels(self) -> int:
        return int(self.kernels.shape[-1])

    @property
    def mean_rates(self) -> np.ndarray:
        return self.arrivals.mean_rates

    @property
    def lam_max(self) -> float:
        """lambda_max = max_i beta_i / d_i^3 (spec §1.6): at or above it zero energy is optimal."""
        return float(np.max(self.beta / self.dist**3))

    @property
    def stationary_channel(self) -> np.ndarray:
        """Stationary channel law pi per user, shape (N, N_c) (computed once; treat kernels as fixed)."""
        return self._pi

    @property
    def buffer_size(self) -> int:
        """Length of the global buffer: sum_i (tau_i + 1) counters (spec §1.2)."""
        return int((self.tau + 1).sum())

    def describe(self) -> dict:
        """JSON-friendly summary (arrival kind carries the SYNTHETIC label when it applies)."""
        return {
            "name": self.name, "n_users": self.n_users, "tau": self.tau.tolist(),
            "beta": self.beta.tolist(), "dist": self.dist.tolist(),
            "arrivals": self.arrivals.label, "mean_rates": self.mean_rates.tolist(),
            "n_channels": self.n_channels, "e_max": self.e_max, "horizon": self.horizon,
            "budget": self.budget, "lam_max": self.lam_max, **self.meta,
        }


def _check_range(name: str, lo: float, hi: float, integer: bool = False) -> None:
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo > hi:
        raise ValueError(f"{name} must be a finite range (lo, hi) with lo <= hi, got ({lo}, {hi})")
    if integer and (lo != int(lo) or hi != int(hi)):
        raise ValueError(f"{name} must have integer ends, got ({lo}, {hi})")


def make_instance(
    seed: int = 0,
    preset: str = "code",
    *,
    n_users: int | None = None,
    tau_range: tuple[int, int] | None = None,
    tau_max: int | None = None,
    homogeneous: bool = False,
    arrival: str | None = None,
    rate_range: tuple[float, float] | None = None,
    rates: np.ndarray | list[float] | None = None,
    period: int = 10,
    periodic_mode: str = "square",
    trace_path: str | os.PathLike[str] | None = None,
    train_fraction: float = 0.8,
    mmpp: tuple[float, float, float] = (0.5, 1.5, 0.05),
    n_channels: int = 4,
    rho: float = 0.0,
    kernel: np.ndarray | None = None,
    channel_start: str = "uniform",
    e_max: float = 1.0,
    horizon: int = 100,
    budget: float | None = None,
    budget_factor: float = 0.5,
    tau: np.ndarray | list[int] | None = None,
    beta: np.ndarray | list[float] | None = None,
    dist: np.ndarray | list[float] | None = None,
) -> SchedulingInstance:
    """Draw an instance from ``seed`` (the spec's ``seed1``), RSD4 spec §1.1-1.6.

    Every argument left at ``None`` takes the preset's value; explicit ``tau``/``beta``/``dist``/
    ``rates``/``kernel`` override the draws. ``homogeneous`` sets beta = d = 1. The budget defaults to
    ``budget_factor * sum_i A_i``. ``mmpp`` = (low, high, switch) of the synthetic MMPP-2 arrivals;
    ``train_fraction`` is the trace's train/eval split.
    """
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {', '.join(PRESETS)}, got {preset!r}")
    base = {
        "code": dict(n_users=4, tau_range=(1, 6), tau_max=6, arrival="poisson", rate_range=(2, 5)),
        "bench": dict(n_users=4, tau_range=(1, 3), tau_max=3, arrival="poisson", rate_range=(1, 2)),
        "tiny": dict(n_users=2, tau_range=(1, 2), tau_max=2, arrival="bernoulli", rate_range=(0.0, 1.0)),
    }[preset]
    n_users = base["n_users"] if n_users is None else n_users
    tau_range = base["tau_range"] if tau_range is None else tau_range
    arrival = base["arrival"] if arrival is None else arrival
    if int(n_users) != n_users or n_users < 1:
        raise ValueError(f"n_users must be a positive integer, got {n_users}")
    n = int(n_users)
    _check_range("tau_range", *tau_range, integer=True)
    if tau_range[0] < 0:
        raise ValueError(f"tau_range must be non-negative, got {tau_range}")
    if tau_max is None:
        tau_max = max(int(base["tau_max"]), int(tau_range[1])) if tau is None else None
    if arrival not in ARRIVAL_KINDS:
        raise ValueError(f"arrival must be one of {', '.join(ARRIVAL_KINDS)}, got {arrival!r}")
    if int(n_channels) != n_channels or n_channels < 1:
        raise ValueError(f"n_channels must be a positive integer, got {n_channels}")
    if not (np.isfinite(budget_factor) and budget_factor >= 0):
        raise ValueError(f"budget_factor must be a non-negative number, got {budget_factor}")

    rng = np.random.default_rng(seed)
    tau_draw = rng.integers(int(tau_range[0]), int(tau_range[1]) + 1, size=n)
    beta_draw = rng.integers(1, 6, size=n).astype(float)
    dist_draw = rng.uniform(1.0, 2.0, size=n)
    if homogeneous:
        beta_draw = np.ones(n)
        dist_draw = np.ones(n)
    # arrival rates: the code's ranges (Bernoulli U(0,1); Poisson-like U{2..5}) unless overridden
    if arrival == "bernoulli":
        rr = (0.0, 1.0) if (rate_range is None and preset != "tiny") else (rate_range or base["rate_range"])
        _check_range("rate_range", *rr)
        if rr[0] < 0 or rr[1] > 1:
            raise ValueError(f"rate_range for Bernoulli arrivals must lie in [0, 1], got {rr}")
        rate_draw = rng.uniform(rr[0], rr[1], size=n)
    else:
        rr = rate_range if rate_range is not None else (
            base["rate_range"] if base["arrival"] == "poisson" else (2, 5))
        _check_range("rate_range", *rr)
        if rr[0] < 0:
            raise ValueError(f"rate_range must be non-negative, got {rr}")
        if rr[0] == int(rr[0]) and rr[1] == int(rr[1]):
            rate_draw = rng.integers(int(rr[0]), int(rr[1]) + 1, size=n).astype(float)
        else:
            rate_draw = rng.uniform(rr[0], rr[1], size=n)
    R = random_kernel(rng, int(n_channels))

    tau_arr = tau_draw if tau is None else np.asarray(tau)
    beta_arr = beta_draw if beta is None else np.asarray(beta, dtype=float)
    dist_arr = dist_draw if dist is None else np.asarray(dist, dtype=float)
    rate_arr = rate_draw if rates is None else np.asarray(rates, dtype=float)
    if rate_arr.shape != (n,):
        raise ValueError(f"rates must have one entry per user (shape ({n},)), got shape {rate_arr.shape}")

    if arrival == "bernoulli":
        proc: ArrivalProcess = BernoulliArrivals(rate_arr)
    elif arrival == "poisson":
        proc = PoissonArrivals(rate_arr)
    elif arrival == "periodic":
        proc = PeriodicArrivals(rate_arr, period=period, mode=periodic_mode)
    elif arrival == "mmpp":
        if len(mmpp) != 3:
            raise ValueError(f"mmpp must be (low, high, switch), got {mmpp!r}")
        proc = MMPPArrivals(rate_arr, low=float(mmpp[0]), high=float(mmpp[1]), switch=float(mmpp[2]))
    else:
        if trace_path is None:
            raise ValueError("arrival='trace' needs trace_path (a CSV: rows are users, columns are slots)")
        proc = TraceArrivals.from_csv(trace_path, train_fraction=train_fraction).restrict(n)

    if kernel is not None:
        K = validate_kernel(kernel, "kernel")
    else:
        K = sticky_kernel(R, rho)
    if budget is None:
        budget = budget_factor * float(proc.mean_rates.sum())
    return SchedulingInstance(
        tau=tau_arr, beta=beta_arr, dist=dist_arr, arrivals=proc, kernels=K, e_max=e_max,
        horizon=horizon, budget=budget, tau_max=tau_max, channel_start=channel_start,
        name=f"{preset}(seed={seed})", meta={"rho": float(rho), "seed": int(seed), "preset": preset},
    )
