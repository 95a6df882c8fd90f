"""Packet arrival processes of the scheduling system (RSD4 spec §1.3).

Every process draws a whole episode of arrivals at reset, shape (n_users, horizon), and never depends
on actions. Available: Bernoulli, Poisson (the code's default), periodic/bursty variants, a
Markov-modulated Poisson process (MMPP-2, **synthetic**: the paper's LTE traces are not public) and
trace-driven arrivals read from a CSV the user supplies (rows are users, columns are slots; the first
80% of the columns train, the last 20% evaluate, as in the released code).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numba as nb
import numpy as np
from scipy import stats

__all__ = [
    "ArrivalProcess",
    "BernoulliArrivals",
    "PoissonArrivals",
    "PeriodicArrivals",
    "MMPPArrivals",
    "TraceArrivals",
    "load_trace_csv",
    "write_synthetic_trace_csv",
    "SYNTHETIC_LABEL",
]

SYNTHETIC_LABEL = "SYNTHETIC (MMPP-2 substitute for the non-public LTE trace)"


def _rates(rates: np.ndarray | list[float], name: str = "rates") -> np.ndarray:
    r = np.asarray(rates, dtype=float)
    if r.ndim != 1 or r.size < 1:
        raise ValueError(f"{name} must be a non-empty 1-D array (one rate per user), got shape {r.shape}")
    if not np.all(np.isfinite(r)) or np.any(r < 0):
        raise ValueError(f"{name} must be finite and non-negative, got {r}")
    return r


@dataclass
class ArrivalProcess:
    """Base class: ``sample(rng, horizon)`` -> int64 array (n_users, horizon) of arrivals per slot."""

    rates: np.ndarray
    kind: str = field(default="base", init=False)
    synthetic: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self.rates = _rates(self.rates)

    @property
    def n_users(self) -> int:
        return int(self.rates.size)

    @property
    def mean_rates(self) -> np.ndarray:
        """Long-run mean arrivals per slot A_i (enters the budget E_b = 0.5 sum A_i and eq. (25))."""
        return self.rates.copy()

    @property
    def iid(self) -> bool:
        """True when arrivals are i.i.d. over slots (what the occupation-measure LP of §3.1 needs)."""
        return False

    @property
    def label(self) -> str:
        return self.kind + (f" [{SYNTHETIC_LABEL}]" if self.synthetic else "")

    def pmf(self, cap: int) -> np.ndarray:
        """Per-slot arrival pmf on {0..cap}, mass above cap folded into cap (spec §3.1); i.i.d. only."""
        raise ValueError(f"arrival process {self.kind!r} is not i.i.d. over slots; the LP needs "
                         "'bernoulli' or 'poisson' arrivals (the packet DP of §3.2 handles any)")

    def sample(self, rng: np.random.Generator, horizon: int, split: str = "train") -> np.ndarray:
        raise NotImplementedError

    def sample_many(self, rng: np.random.Generator, episodes: int, horizon: int, split: str = "train"
                    ) -> np.ndarray:
        """``episodes`` independent episodes at once, shape (episodes, n_users, horizon)."""
        return np.stack([self.sample(rng, horizon, split) for _ in range(int(episodes))])

    def inverse_cdf_table(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(cdf, guide)`` when :meth:`sample_many` is exactly the inverse-CDF draw
        a = #{k : u >= cdf[i, k]} from ``u = rng.random((episodes, n_users, horizon))``, with
        cdf[:, -1] = 1 and guide[i, j] = the smallest k with cdf[i, k] > j / guide.shape[1] (so the env
        may draw those uniforms together with its others and invert them in its reset kernel); else
        None."""
        return None


@dataclass
class BernoulliArrivals(ArrivalProcess):
    """a_i(t) ~ Bernoulli(A_i), i.i.d. (the code draws A_i ~ U(0, 1))."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.kind = "bernoulli"
        if np.any(self.rates > 1):
            raise ValueError(f"Bernoulli arrival rates must lie in [0, 1], got {self.rates}")

    @property
    def iid(self) -> bool:
        return True

    def pmf(self, cap: int) -> np.ndarray:
        cap = max(int(cap), 1)
        out = np.zeros((self.n_users, cap + 1))
        out[:, 0] = 1 - self.rates
        out[:, 1] = self.rates
        return out

    def sample(self, rng: np.random.Generator, horizon: int, split: str = "train") -> np.ndarray:
        return (rng.random((self.n_users, int(horizon))) < self.rates[:, None]).astype(np.int64)

    def sample_many(self, rng: np.random.Generator, episodes: int, horizon: int, split: str = "train"
                    ) -> np.ndarray:
        u = rng.random((int(episodes), self.n_users, int(horizon)))
        return (u < self.rates[None, :, None]).astype(np.int64)


@dataclass
class PoissonArrivals(ArrivalProcess):
    """a_i(t) ~ Poisson(A_i), i.i.d. (the code's default, A_i ~ U{2..5})."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.kind = "poisson"

    @property
    def iid(self) -> bool:
        return True

    def pmf(self, cap: int) -> np.ndarray:
        cap = int(cap)
        if cap < 1:
            raise ValueError(f"queue cap must be >= 1, got {cap}")
        ks = np.arange(cap + 1)
        out = stats.poisson.pmf(ks[None, :], self.rates[:, None])
        out[:, cap] = stats.poisson.sf(cap - 1, self.rates)
        return out

    def sample(self, rng: np.random.Generator, horizon: int, split: str = "train") -> np.ndarray:
        return self.sample_many(rng, 1, horizon, split)[0]

    def inverse_cdf_table(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The Poisson CDF table and its guide table (rates <= 50; else None: ``rng.poisson`` draws).
        Built once per ``rates`` array (the env asks at every reset)."""
        if getattr(self, "_table_rates", None) is not self.rates:
            table = None
            if self.rates.max() <= _POISSON_TABLE_MAX:
                cdf = _poisson_cdf_table(self.rates)
                table = (cdf, _guide_table(cdf))
            self._table, self._table_rates = table, self.rates
        return self._table

    def sample_many(self, rng: np.random.Generator, episodes: int, horizon: int, split: str = "train"
                    ) -> np.ndarray:
        M, n, H = int(episodes), self.n_users, int(horizon)
        table = self.inverse_cdf_table()
        if table is not None:
            return _draw_from_cdf(table[0], table[1], rng.random((M, n, H)))
        return rng.poisson(self.rates[None, :, None], size=(M, n, H)).astype(np.int64)


_POISSON_TABLE_MAX = 50.0


def _poisson_cdf_table(rates: np.ndarray) -> np.ndarray:
    """CDF table of Poisson(rates[i]) on 0..k_max with k_max = ceil(A + 12 sqrt(A) + 20): the mass
    beyond k_max (< 1e-15 for A <= 50) is folded into k_max."""
    kmax = int(np.ceil(rates.max() + 12 * np.sqrt(rates.max()) + 20))
    cdf = stats.poisson.cdf(np.arange(kmax + 1)[None, :], rates[:, None])
    cdf[:, -1] = 1.0
    return np.ascontiguousarray(cdf)


_GUIDE = 256


def _guide_table(cdf: np.ndarray) -> np.ndarray:
    """guide[i, j] = smallest k with cdf[i, k] > j / G: the inverse-CDF search starts there (Chen and
    Asau's guide table), so a draw needs about one comparison."""
    grid = np.arange(_GUIDE) / _GUIDE
    return np.stack([np.searchsorted(row, grid, side="right") for row in cdf]).astype(np.int64)


@nb.njit(cache=True)
def _draw_from_cdf(cdf, guide, u):
    """Exact inverse-CDF draws: out[m, i, t] = #{k : u[m, i, t] >= cdf[i, k]}, started from the guide."""
    M, n, H = u.shape
    out = np.empty((M, n, H), dtype=np.int64)
    last = cdf.shape[1] - 1
    G = guide.shape[1]
    for m in range(M):
        for i in range(n):
            for t in range(H):
                x = u[m, i, t]
                k = guide[i, int(x * G)]
                while k < last and x >= cdf[i, k]:
                    k += 1
                out[m, i, t] = k
    return out


@dataclass
class PeriodicArrivals(ArrivalProcess):
    """Periodic / bursty arrivals with mean A_i (the code's ``period``/``square`` options).

    ``mode``:
    - ``"square"``: Poisson(2 A_i) in the first half of every period of ``period`` slots, none in the
      second half (a bursty square wave of mean A_i);
    - ``"repeat"``: one block of ``period`` Poisson(A_i) draws, repeated over the episode;
    - ``"hold"``: each Poisson(A_i) draw is held for ``period`` slots.
    """

    period: int = 10
    mode: str = "square"

    def __post_init__(self) -> None:
        super().__post_init__()
        self.kind = f"periodic-{self.mode}"
        if int(self.period) < 2 or int(self.period) != self.period:
            raise ValueError(f"period must be an integer >= 2, got {self.period}")
        if self.mode not in ("square", "repeat", "hold"):
            raise ValueError(f"periodic mode must be 'square', 'repeat' or 'hold', got {self.mode!r}")
        self.period = int(self.period)

    def sample(self, rng: np.random.Generator, horizon: int, split: str = "train") -> np.ndarray:
        n, H, T = self.n_users, int(horizon), self.period
        if self.mode == "square":
            on = (np.arange(H) % T) < (T + 1) // 2
            frac_on = ((T + 1) // 2) / T
            lam = self.rates[:, None] / frac_on * on[None, :]
            return rng.poisson(lam).astype(np.int64)
        if self.mode == "repeat":
            block = rng.poisson(self.rates[:, None], size=(n, T))
            return np.tile(block, (1, -(-H // T)))[:, :H].astype(np.int64)
        draws = rng.poisson(self.rates[:, None], size=(n, -(-H // T)))
        return np.repeat(draws, T, axis=1)[:, :H].astype(np.int64)


@dataclass
class MMPPArrivals(ArrivalProcess):
    """SYNTHETIC Markov-modulated Poisson arrivals (RSD4 spec §1.3, our substitute for the LTE trace).

    Each user has a hidden phase in {low, high} with Poisson rates (``low`` A_i, ``high`` A_i); the
    phase flips with probability ``switch`` per slot and starts from its stationary (uniform) law, so
    the mean rate is A_i when low + high = 2. Outputs carry :data:`SYNTHETIC_LABEL`.
    """

    low: float = 0.5
    high: float = 1.5
    switch: float = 0.05

    def __post_init__(self) -> None:
        super().__post_init__()
        self.kind = "mmpp"
        self.synthetic = True
        if not 0.0 < self.switch <= 1.0:
            raise ValueError(f"MMPP switch probability must be in (0, 1], got {self.switch}")
        if self.low < 0 or self.high < 0:
            raise ValueError(f"MMPP rate multipliers must be non-negative, got ({self.low}, {self.high})")

    @property
    def mean_rates(self) -> np.ndarray:
        return self.rates * 0.5 * (self.low + self.high)

    def sample(self, rng: np.random.Generator, horizon: int, split: str = "train") -> np.ndarray:
        n, H = self.n_users, int(horizon)
        flips = rng.random((n, H)) < self.switch
        flips[:, 0] = rng.random(n) < 0.5
        phase = np.cumsum(flips, axis=1) % 2
        mult = np.where(phase == 1, self.high, self.low)
        return rng.poisson(self.rates[:, None] * mult).astype(np.int64)


def load_trace_csv(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an arrival trace CSV: rows are users, columns are slots, non-negative integers.

    Lines starting with ``#`` are comments (our synthetic traces label themselves there).
    """
    p = os.fspath(path)
    if not os.path.exists(p):
        raise FileNotFoundError(f"trace_path {p!r} does not exist")
    try:
        data = np.loadtxt(p, delimiter=",", comments="#", ndmin=2)
    except ValueError as exc:
        raise ValueError(f"trace_path {p!r}: could not parse as a numeric CSV ({exc})") from None
    if data.size == 0:
        raise ValueError(f"trace_path {p!r} holds no data")
    if not np.all(np.isfinite(data)) or np.any(data < 0) or np.any(data != np.round(data)):
        raise ValueError(f"trace_path {p!r} must hold non-negative integer packet counts")
    return data.astype(np.int64)


def write_synthetic_trace_csv(
    path: str | os.PathLike[str], rates: np.ndarray | list[float], n_slots: int, seed: int = 0
) -> np.ndarray:
    """Write a SYNTHETIC MMPP-2 trace in the loader's layout, labelled synthetic in a comment line."""
    proc = MMPPArrivals(np.asarray(rates, dtype=float))
    trace = proc.sample(np.random.default_rng(seed), int(n_slots))
    header = (f"{SYNTHETIC_LABEL}; rows=users, columns=slots; rates={list(map(float, proc.rates))}; "
              f"seed={seed}")
    np.savetxt(os.fspath(path), trace, fmt="%d", delimiter=",", header=header, comments="# ")
    return trace


@dataclass
class TraceArrivals(ArrivalProcess):
    """Trace-driven arrivals: episodes are random windows of ``horizon`` slots of a trace matrix.

    The first ``train_fraction`` of the columns serve ``split="train"``, the rest ``split="eval"``
    (the code's 80/20 split). Row i of the trace is user i; extra rows are ignored.
    """

    trace: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    train_fraction: float = 0.8
    source: str = "array"

    def __post_init__(self) -> None:
        tr = np.asarray(self.trace)
        if tr.ndim != 2 or tr.shape[0] < 1 or tr.shape[1] < 2:
            raise ValueError(f"trace must be a 2-D (users, slots) array, got shape {tr.shape}")
        if not 0.0 < self.train_fraction < 1.0:
            raise ValueError(f"train_fraction must be in (0, 1), got {self.train_fraction}")
        self.trace = tr.astype(np.int64)
        self._cut = int(round(self.train_fraction * tr.shape[1]))
        self.rates = self.trace[:, : self._cut].mean(axis=1).astype(float)
        super().__post_init__()
        self.kind = f"trace:{self.source}"
        self.synthetic = "SYNTHETIC" in self.source.upper()

    def restrict(self, n_users: int) -> TraceArrivals:
        """The same trace limited to its first ``n_users`` rows (error if it has fewer)."""
        if self.trace.shape[0] < n_users:
            raise ValueError(f"trace has {self.trace.shape[0]} rows but n_users={n_users}")
        return TraceArrivals(rates=self.rates[:n_users], trace=self.trace[:n_users],
                             train_fraction=self.train_fraction, source=self.source)

    @classmethod
    def from_csv(cls, path: str | os.PathLike[str], train_fraction: float = 0.8) -> TraceArrivals:
        p = os.fspath(path)
        data = load_trace_csv(p)
        with open(p) as fh:
            first = fh.readline()
        src = os.path.basename(p) + (" SYNTHETIC" if "SYNTHETIC" in first.upper() else "")
        return cls(rates=np.zeros(data.shape[0]), trace=data, train_fraction=train_fraction, source=src)

    def sample(self, rng: np.random.Generator, horizon: int, split: str = "train") -> np.ndarray:
        H = int(horizon)
        if split == "train":
            lo, hi = 0, self._cut
        elif split == "eval":
            lo, hi = self._cut, self.trace.shape[1]
        else:
            raise ValueError(f"split must be 'train' or 'eval', got {split!r}")
        if hi - lo < H:
            raise ValueError(f"the trace's {split} part has {hi - lo} slots, fewer than horizon={H}")
        start = lo + int(rng.integers(0, hi - lo - H + 1))
        return self.trace[:, start : start + H].copy()
