"""Gymnasium environment of the multi-user delay-constrained scheduling system (RSD4 spec §1).

One step is one slot (spec §1.2): observe, choose a per-packet energy for every counter, transmit
(eq. (1), success probability eq. (5)), shift the counters toward index 0 and expire the head
(eqs. (2)-(3)), let the slot's arrivals enter the last counter, step the channel. The reward is
eq. (8): sum_i beta_i S_i(t) - lambda E_i(t).

Vectorised over users: everything exogenous (arrivals, channel paths, noisy channel readings) is
drawn in full at ``reset``; a step is one Numba kernel that does all users and counters in one pass
(``benchmarks/bench_scheduling.py`` measures it against a per-packet Python loop). Binomial
successes are exact: one Bernoulli draw per packet for counters of <= 12 packets, else the inverse
CDF from one uniform; uniforms come from a per-episode splitmix64 stream seeded from ``np_random`` at
reset.

Spaces. The action is a flat Box [-1, 1]^B with B = sum_i (tau_i + 1), the global buffer's layout
(user-major, counter index k ascending); a in [-1, 1] means energy e = e_max (a + 1)/2 per packet of
that counter (actions outside [-1, 1] are clipped; NaN raises). The observation is the global buffer
of counters q_{i,k}(t) followed, when fully observed, by the N channel states c_i(t) in 1..N_c
(with ``obs_noise = eta`` the shown state is c with probability 1 - eta, else uniform). Partially
observed (``partial=True``, spec §1.7): the channel is not shown. ``info`` carries per-user
``S``, ``E``, ``D``, ``reward`` (r_{i,t}, eq. (8)) and the true ``channel`` of the slot.
"""

from __future__ import annotations

import inspect
from typing import Any

import gymnasium as gym
import numba as nb
import numpy as np
from gymnasium import spaces

from .channels import initial_law, markov_paths
from .instances import SchedulingInstance, make_instance

__all__ = ["SchedulingEnv", "binomial_from_uniform", "check_instance_kwargs"]


def check_instance_kwargs(kwargs: dict) -> None:
    """Raise ValueError naming any keyword that neither the env nor :func:`make_instance` accepts."""
    allowed = set(inspect.signature(make_instance).parameters) - {"seed"}
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        raise ValueError(f"unknown scheduling parameter(s) {unknown}; env parameters: partial, obs_noise, "
                         f"lam, split, instance_seed; instance parameters: {', '.join(sorted(allowed))}")

_BINOM_EXACT_MAX = 1000
_PER_PACKET_MAX = 12


@nb.njit(cache=True)
def binomial_from_uniform(n: int, p: float, u: float) -> int:
    """Binomial(n, p) by inverse CDF from one uniform u in [0, 1) (exact for n <= 1000).

    Uses the symmetry Bin(n, p) = n - Bin(n, 1 - p) so that p <= 1/2 and (1 - p)^n cannot underflow
    for n <= 1000; larger counters (never met by the presets) use a rounded normal approximation.
    """
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    flip = p > 0.5
    pp = 1.0 - p if flip else p
    uu = 1.0 - u if flip else u
    if n > _BINOM_EXACT_MAX:
        # Acklam-free approximation: Box-Muller is not possible from one uniform, so use the logit
        # inverse of the normal CDF (error < 1e-2 in quantile), clipped to [0, n].
        z = np.log(uu / (1.0 - uu) + 1e-300) / 1.702
        s = int(np.floor(n * pp + z * np.sqrt(n * pp * (1.0 - pp)) + 0.5))
        s = min(max(s, 0), n)
        return n - s if flip else s
    ratio = pp / (1.0 - pp)
    pmf = (1.0 - pp) ** n
    cdf = pmf
    s = 0
    while uu >= cdf and s < n:
        pmf *= ratio * (n - s) / (s + 1.0)
        s += 1
        cdf += pmf
    return n - s if flip else s


@nb.njit(cache=True, inline="always")
def _mix53(z):
    """splitmix64 output (Steele, Lea, Flood 2014) of a state value, as a 53-bit integer k: the
    uniform is k / 2^53.

    Each episode owns one 64-bit state, seeded at reset from the env's ``np_random`` and advanced by
    the golden-ratio increment per draw, so transmissions are reproducible per episode.
    """
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return z >> np.uint64(11)


@nb.njit(cache=True)
def step_batch(t, q, action, flat_user, flat_k, tau, kappa_d, beta, e_max, lam, chans, arrs, rng_state,
               chan_obs, partial, out, obs):
    """Slot ``t`` for M lock-step episodes and all users: RSD4 spec eqs. (1)-(3) and (8), in place.

    ``q`` (M, N, K) int64 counters; ``action`` (M, B) flat actions in the global-buffer layout given by
    ``flat_user``/``flat_k``; ``kappa_d`` = d_i^3; exogenous arrays are episode-major: ``chans`` and
    ``chan_obs`` (M, N, H + 1) true and shown channel states (1-based), ``arrs`` (M, N, H) arrivals;
    ``rng_state`` (M,) uint64 splitmix64 states drive the transmissions (one uniform per non-empty
    counter, exact binomial by inverse CDF). ``out`` (M, 4, N) receives per user successes S,
    energy E, expired D and reward R (eq. (8)); ``obs`` (M, B [+ N]) the next observation.
    Returns False (and changes nothing) if an action is NaN.
    """
    M = q.shape[0]
    n_users = q.shape[1]
    B = flat_user.shape[0]
    for m in range(M):
        for j in range(B):
            if np.isnan(action[m, j]):
                return False
    gamma = np.uint64(0x9E3779B97F4A7C15)
    for m in range(M):
        st = rng_state[m]  # the episode's splitmix64 state, kept in a register for this slot
        for i in range(n_users):
            out[m, 0, i] = 0.0
            out[m, 1, i] = 0.0
            out[m, 2, i] = 0.0
        for j in range(B):
            i = flat_user[j]
            k = flat_k[j]
            a = action[m, j]
            if a < -1.0:
                a = -1.0
            elif a > 1.0:
                a = 1.0
            e = e_max * (a + 1.0) * 0.5
            n = q[m, i, k]
            left = 0
            if n > 0:
                s = 0
                if e > 0.0:
                    # eq. (5): p = tanh(x) = expm1(2x) / (expm1(2x) + 2), exact to rounding and faster
                    x2 = np.expm1(2.0 * e / (kappa_d[i] * chans[m, i, t]))
                    p = x2 / (x2 + 2.0)
                    if n <= _PER_PACKET_MAX:
                        # one Bernoulli draw per packet (cheaper than the inverse CDF for few packets),
                        # counted without a branch
                        # u = k / 2^53 < p  <=>  k < ceil(p 2^53): an exact integer comparison
                        thr = np.uint64(np.ceil(p * 9007199254740992.0))
                        for _ in range(n):
                            st += gamma
                            s += np.int64(_mix53(st) < thr)
                    else:
                        st += gamma
                        s = binomial_from_uniform(n, p, np.int64(_mix53(st)) * (1.0 / 9007199254740992.0))
                out[m, 0, i] += s
                out[m, 1, i] += e * n
                left = n - s
            # counters are visited in ascending k, so index k - 1 has already been consumed
            if k == 0:
                out[m, 2, i] = left
            else:
                q[m, i, k - 1] = left
            if k == tau[i]:
                q[m, i, k] = arrs[m, i, t]
        rng_state[m] = st
        for i in range(n_users):
            out[m, 3, i] = beta[i] * out[m, 0, i] - lam * out[m, 1, i]
        for j in range(B):
            obs[m, j] = q[m, flat_user[j], flat_k[j]]
        if not partial:
            for i in range(n_users):
                obs[m, B + i] = chan_obs[m, i, t + 1]
    return True


@nb.njit(cache=True)
def fill_obs(t, q, flat_user, flat_k, chan_obs, partial, obs):
    """Observation of slot ``t`` (counters in global-buffer layout, then shown channels), batched."""
    B = flat_user.shape[0]
    for m in range(q.shape[0]):
        for j in range(B):
            obs[m, j] = q[m, flat_user[j], flat_k[j]]
        if not partial:
            for i in range(q.shape[1]):
                obs[m, B + i] = chan_obs[m, i, t]


class BatchCore:
    """State and exogenous randomness of M lock-step episodes of one instance (shared by the envs)."""

    def __init__(self, instance: SchedulingInstance, num_episodes: int, partial: bool, obs_noise: float,
                 lam: float) -> None:
        if not isinstance(instance, SchedulingInstance):
            raise ValueError("instance must be a SchedulingInstance")
        if not isinstance(partial, (bool, np.bool_)):
            raise ValueError(f"partial must be True or False, got {partial!r}")
        obs_noise = float(obs_noise)
        if not 0.0 <= obs_noise < 1.0:
            raise ValueError(f"obs_noise (channel sensing error eta) must be in [0, 1), got {obs_noise}")
        if partial and obs_noise > 0:
            raise ValueError("obs_noise applies to the observed channel; it cannot be used with partial=True")
        if int(num_episodes) != num_episodes or num_episodes < 1:
            raise ValueError(f"num_envs must be a positive integer, got {num_episodes}")
        self.instance = inst = instance
        self.partial = bool(partial)
        self.obs_noise = obs_noise
        self.lam = lam
        M, n, K, H = int(num_episodes), inst.n_users, inst.tau_max + 1, inst.horizon
        self.M, self.n_users, self.n_counters, self.horizon = M, n, K, H
        self.tau = inst.tau.astype(np.int64)
        self.flat_user = np.repeat(np.arange(n, dtype=np.int64), self.tau + 1)
        self.flat_k = np.concatenate([np.arange(t + 1, dtype=np.int64) for t in self.tau])
        self.kappa_d = inst.dist.astype(float) ** 3
        self.beta = inst.beta.astype(float)
        self.buffer_size = int(self.flat_user.size)
        self.obs_dim = self.buffer_size + (0 if self.partial else n)
        self.q = np.zeros((M, n, K), dtype=np.int64)
        self.out = np.zeros((M, 4, n))
        self.obs = np.zeros((M, self.obs_dim), dtype=np.float32)
        self.arrs = np.zeros((M, n, H), dtype=np.int64)
        self.chans = np.ones((M, n, H + 1), dtype=np.int64)
        self.chan_obs = self.chans
        self.rng_state = np.zeros(M, dtype=np.uint64)
        self.t = 0
        # channel sampling tables, validated once (the instance checked the kernels)
        cum = np.cumsum(inst.kernels, axis=-1)
        cum[..., -1] = 1.0
        c0 = np.cumsum(initial_law(inst.kernels, inst.channel_start), axis=-1)
        c0[:, -1] = 1.0
        self._cum = np.ascontiguousarray(np.broadcast_to(cum[None], (M, *cum.shape)).reshape(M * n, *cum.shape[1:]))
        self._c0cum = np.ascontiguousarray(np.broadcast_to(c0[None], (M, *c0.shape)).reshape(M * n, -1))

    @property
    def lam(self) -> float:
        return self._lam

    @lam.setter
    def lam(self, value: float) -> None:
        value = float(value)
        if not (np.isfinite(value) and value >= 0):
            raise ValueError(f"lam (the energy multiplier lambda) must be a non-negative finite number, got {value}")
        self._lam = value

    def observation_space(self) -> spaces.Box:
        inst, B = self.instance, self.buffer_size
        low = np.zeros(self.obs_dim, dtype=np.float32)
        # counters are unbounded for Poisson arrivals: the largest float32 stands for "no bound"
        high = np.full(self.obs_dim, np.finfo(np.float32).max, dtype=np.float32)
        if not self.partial:
            low[B:] = 1.0
            high[B:] = inst.n_channels
        return spaces.Box(low, high, dtype=np.float32)

    def reset(self, rng: np.random.Generator, split: str) -> None:
        """Draw every episode's exogenous randomness (arrivals, channels, sensing noise, uniforms)."""
        inst = self.instance
        M, n, H = self.M, self.n_users, self.horizon
        self.arrs = np.ascontiguousarray(inst.arrivals.sample_many(rng, M, H, split=split), dtype=np.int64)
        paths = markov_paths(self._cum, self._c0cum, rng.random((M * n, H + 1)))
        self.chans = paths.reshape(M, n, H + 1)
        if self.obs_noise > 0:
            swap = rng.random((M, n, H + 1)) < self.obs_noise
            rand_c = rng.integers(1, inst.n_channels + 1, size=(M, n, H + 1))
            self.chan_obs = np.where(swap, rand_c, self.chans)
        else:
            self.chan_obs = self.chans
        self.rng_state[:] = rng.integers(0, np.iinfo(np.int64).max, size=M, dtype=np.int64).astype(np.uint64)
        self.q[:] = 0
        self.t = 0
        fill_obs(0, self.q, self.flat_user, self.flat_k, self.chan_obs, self.partial, self.obs)

    def step(self, action: np.ndarray) -> None:
        """Advance every episode by one slot; results in ``self.out`` and ``self.obs``."""
        ok = step_batch(self.t, self.q, action, self.flat_user, self.flat_k, self.tau, self.kappa_d,
                        self.beta, self.instance.e_max, self._lam, self.chans, self.arrs, self.rng_state,
                        self.chan_obs, self.partial, self.out, self.obs)
        if not ok:
            raise ValueError("action contains NaN")
        self.t += 1


class SchedulingEnv(gym.Env):
    """Multi-user delay-constrained scheduling (RSD4 spec §1), gymnasium API.

    Parameters
    ----------
    instance:
        A :class:`SchedulingInstance`; if ``None`` one is drawn by :func:`make_instance` from
        ``instance_seed`` (the spec's ``seed1``) and ``instance_kwargs`` (e.g. ``n_users=20``,
        ``preset="bench"``, ``arrival="bernoulli"``, ``rho=0.9``, ``budget=...``).
    partial:
        Hide the channel from the observation (spec §1.7).
    obs_noise:
        eta in [0, 1): probability that the shown channel is replaced by a uniform state.
    lam:
        The multiplier lambda >= 0 of the reward eq. (8); settable between steps (``env.lam = ...``).
    split:
        ``"train"`` or ``"eval"`` part of a trace (ignored for synthetic processes); ``reset`` may
        override it with ``options={"split": ...}``.
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
        instance: SchedulingInstance | None = None,
        *,
        partial: bool = False,
        obs_noise: float = 0.0,
        lam: float = 1.0,
        split: str = "train",
        instance_seed: int = 0,
        render_mode: str | None = None,
        **instance_kwargs: Any,
    ) -> None:
        if render_mode is not None:
            raise ValueError(f"render_mode must be None (no rendering), got {render_mode!r}")
        if instance is None:
            check_instance_kwargs(instance_kwargs)
            instance = make_instance(instance_seed, **instance_kwargs)
        elif instance_kwargs:
            raise ValueError(f"give either instance or instance parameters, not both: {sorted(instance_kwargs)}")
        if split not in ("train", "eval"):
            raise ValueError(f"split must be 'train' or 'eval', got {split!r}")
        self._core = core = BatchCore(instance, 1, partial, obs_noise, lam)
        self.instance = instance
        self.partial, self.obs_noise, self.split = core.partial, core.obs_noise, split
        self.render_mode = None
        self.n_users, self.n_counters, self.horizon = core.n_users, core.n_counters, core.horizon
        self.buffer_size = core.buffer_size
        self._flat_user, self._flat_k = core.flat_user, core.flat_k
        self._flat_index = core.flat_user * core.n_counters + core.flat_k
        self.mask = np.zeros((self.n_users, self.n_counters), dtype=bool)
        self.mask[core.flat_user, core.flat_k] = True
        self.action_space = spaces.Box(-1.0, 1.0, shape=(self.buffer_size,), dtype=np.float32)
        self.observation_space = core.observation_space()
        self._needs_reset = True

    # ----------------------------------------------------------------------------------- properties
    @property
    def lam(self) -> float:
        """The Lagrange multiplier lambda of the reward eq. (8)."""
        return self._core.lam

    @lam.setter
    def lam(self, value: float) -> None:
        self._core.lam = value

    @property
    def t(self) -> int:
        """Index of the current slot (0 after reset, H at the end of an episode)."""
        return self._core.t

    @property
    def queues(self) -> np.ndarray:
        """Counters q_{i,k}(t), shape (N, tau_max + 1), zero where k > tau_i (a live view)."""
        return self._core.q[0]

    @property
    def channel(self) -> np.ndarray:
        """True channel states c_i(t) of the current slot (1-based); for full-information baselines."""
        return self._core.chans[0, :, min(self._core.t, self.horizon)]

    @property
    def shown_channel(self) -> np.ndarray:
        """The channel states the observation shows (noisy when ``obs_noise > 0``)."""
        return self._core.chan_obs[0, :, min(self._core.t, self.horizon)]

    @property
    def arrivals(self) -> np.ndarray:
        """The episode's arrival sequence, shape (N, H) (drawn at reset, exogenous)."""
        return self._core.arrs[0]

    # ----------------------------------------------------------------------------------- helpers
    def energies_to_action(self, energies: np.ndarray) -> np.ndarray:
        """Map per-counter energies (N, tau_max + 1) or flat (B,) in [0, e_max] to the action in [-1, 1]."""
        e = np.asarray(energies, dtype=float)
        if e.shape == (self.n_users, self.n_counters):
            e = e.ravel()[self._flat_index]
        if e.shape != (self.buffer_size,):
            raise ValueError(f"energies must have shape ({self.n_users}, {self.n_counters}) or "
                             f"({self.buffer_size},), got {e.shape}")
        return (2.0 * e / self.instance.e_max - 1.0).astype(np.float32)

    def from_padded(self, values: np.ndarray) -> np.ndarray:
        """Flatten a padded per-user array (N, tau_max + 1) to the global-buffer layout (B,) (drops padding)."""
        v = np.asarray(values)
        if v.shape != (self.n_users, self.n_counters):
            raise ValueError(f"values must have shape ({self.n_users}, {self.n_counters}), got {v.shape}")
        return v.ravel()[self._flat_index]

    def action_to_energies(self, action: np.ndarray) -> np.ndarray:
        """Padded (N, tau_max + 1) per-packet energies e = e_max (a + 1)/2 of a flat action (0 where padded)."""
        a = np.clip(np.asarray(action, dtype=float).reshape(-1), -1.0, 1.0)
        out = np.zeros((self.n_users, self.n_counters))
        out[self._flat_user, self._flat_k] = self.instance.e_max * (a + 1.0) / 2.0
        return out

    def user_observations(self) -> np.ndarray:
        """Per-user padded views for user-level decomposition (spec eq. (9)): shape (N, tau_max + 1 [+1]).

        Counters zero-padded to tau_max + 1, followed by the shown channel state when fully observed.
        """
        q = self.queues.astype(np.float32)
        if self.partial:
            return q
        return np.concatenate([q, self.shown_channel.astype(np.float32)[:, None]], axis=1)

    # ----------------------------------------------------------------------------------- gym API
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Start an episode: empty queues, fresh exogenous randomness from ``seed`` (the spec's seed2)."""
        super().reset(seed=seed)
        split = self.split
        if options:
            unknown = set(options) - {"split"}
            if unknown:
                raise ValueError(f"unknown reset options {sorted(unknown)}; allowed: split")
            split = options.get("split", split)
            if split not in ("train", "eval"):
                raise ValueError(f"options['split'] must be 'train' or 'eval', got {split!r}")
        self._core.reset(self.np_random, split)
        self._needs_reset = False
        return self._core.obs[0].copy(), {"channel": self.channel.copy()}

    def step(self, action: np.ndarray):
        """Advance one slot (spec §1.2 order (ii)-(vi)); ``truncated`` is True at t = H."""
        if self._needs_reset:
            raise RuntimeError("call reset() before step() (and after an episode ends)")
        a = np.asarray(action, dtype=np.float64)
        if a.size != self.buffer_size:
            raise ValueError(f"action must have {self.buffer_size} entries (sum_i (tau_i + 1)), got {a.size}")
        core = self._core
        chan = core.chans[0, :, core.t].copy()
        core.step(a.reshape(1, -1))
        truncated = core.t >= self.horizon
        self._needs_reset = truncated
        out = core.out[0].copy()
        info = {"S": out[0], "E": out[1], "D": out[2], "reward": out[3], "channel": chan}
        return core.obs[0].copy(), float(out[3].sum()), False, truncated, info
