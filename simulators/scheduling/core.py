"""State of M lock-step scheduling episodes of one instance, shared by :class:`SchedulingEnv` (M = 1)
and :class:`SchedulingBatch` (RSD4 spec §1); the dynamics are the kernels of :mod:`.kernels`.

Everything validated here is validated once, at construction; a step passes preallocated arrays to
one Numba kernel (:func:`.kernels.step_slot`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import numba as nb
import numpy as np
from gymnasium import spaces

from .channels import initial_law
from .instances import SchedulingInstance, make_instance
from .kernels import begin_episode, draw_exogenous, step_slot

__all__ = ["BatchCore", "CoreViews", "build_instance", "check_instance_kwargs", "compiled_step"]

_NO_TABLE = (np.zeros((0, 1)), np.zeros((0, 1), dtype=np.int64))
_NO_ARRIVALS = np.zeros((0, 0, 0), dtype=np.int64)
_INT64_MAX = int(np.iinfo(np.int64).max)
_MASK64 = (1 << 64) - 1
_TWO53 = 9007199254740992.0


def check_instance_kwargs(kwargs: dict) -> None:
    """Raise ValueError naming any keyword that neither the env nor :func:`make_instance` accepts."""
    allowed = set(inspect.signature(make_instance).parameters) - {"seed"}
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        raise ValueError(f"unknown scheduling parameter(s) {unknown}; env parameters: partial, obs_noise, "
                         f"lam, split, instance_seed; instance parameters: {', '.join(sorted(allowed))}")


_COMPILED: dict[tuple, Callable] = {}


def compiled_step(*args: object) -> Callable:
    """The compiled :func:`.kernels.step_slot` for the types of ``args``, to be called directly.

    A call through the Numba dispatcher first resolves the types of its nine arguments (about 0.4 us,
    a tenth of a 20-user step); the env resolves them once and calls the compiled entry point, which
    trusts them: every later call must pass arrays of exactly these dtypes and dimensions, and the
    state arrays in the same layouts. The action (argument 7) is compiled for any strides ('A'
    layout), so any 1-D array of its dtype may be passed.
    """
    sig = [nb.typeof(a) for a in args]
    sig[6] = nb.types.Array(sig[6].dtype, 1, "A")
    sig = tuple(sig)
    fn = _COMPILED.get(sig)
    if fn is None:
        fn = _COMPILED[sig] = step_slot.compile(sig)
    return fn


def build_instance(instance: SchedulingInstance | None, instance_seed: int, split: str,
                   instance_kwargs: dict) -> SchedulingInstance:
    """The env's instance: the one given, or :func:`make_instance` (``instance_seed``, keywords);
    checks ``split`` and that not both an instance and instance keywords are given."""
    if instance is None:
        check_instance_kwargs(instance_kwargs)
        instance = make_instance(instance_seed, **instance_kwargs)
    elif instance_kwargs:
        raise ValueError(f"give either instance or instance parameters, not both: {sorted(instance_kwargs)}")
    if split not in ("train", "eval"):
        raise ValueError(f"split must be 'train' or 'eval', got {split!r}")
    return instance


class BatchCore:
    """State and exogenous randomness of M lock-step episodes of one instance (layout: :mod:`.kernels`)."""

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
        M, n, K, H = int(num_episodes), inst.n_users, inst.tau_max + 1, inst.horizon
        self.M, self.n_users, self.n_counters, self.horizon = M, n, K, H
        self.tau = np.ascontiguousarray(inst.tau, dtype=np.int64)
        self.flat_user = np.repeat(np.arange(n, dtype=np.int64), self.tau + 1)
        self.flat_k = np.concatenate([np.arange(t + 1, dtype=np.int64) for t in self.tau])
        # fpar = (d_i^3, beta_i, e_max, lambda): one float array for the kernel
        self.fpar = np.concatenate([inst.dist.astype(float) ** 3, inst.beta.astype(float),
                                    [float(inst.e_max), 0.0]])
        self.lam = lam
        self.buffer_size = int(self.flat_user.size)
        self.obs_dim = self.buffer_size + (0 if self.partial else n)
        self.q = np.zeros((M, n, K), dtype=np.int64)
        self.rng_state = np.zeros(M, dtype=np.uint64)
        self.exo = np.ones((M, H + 1, 3, n), dtype=np.int64)
        self.exo[:, :, 0] = 0
        self.obs = np.zeros((M, self.obs_dim), dtype=np.float32)  # the observation at reset
        self.t = 0
        # channel sampling tables, validated once (the instance checked the kernels)
        cum = np.cumsum(inst.kernels, axis=-1)
        cum[..., -1] = 1.0
        c0 = np.cumsum(initial_law(inst.kernels, inst.channel_start), axis=-1)
        c0[:, -1] = 1.0
        self._cum, self._c0cum = np.ascontiguousarray(cum), np.ascontiguousarray(c0)

    @property
    def lam(self) -> float:
        return float(self.fpar[-1])

    @lam.setter
    def lam(self, value: float) -> None:
        value = float(value)
        if not (np.isfinite(value) and value >= 0):
            raise ValueError(f"lam (the energy multiplier lambda) must be a non-negative finite number, got {value}")
        self.fpar[-1] = value

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
        """Draw every episode's exogenous randomness (arrivals, channels, sensing noise, transmission
        seeds) from ``rng`` and empty the queues.

        The draws, in order: the arrivals (:meth:`ArrivalProcess.sample_many`), the channel uniforms
        (M N, H + 1), the sensing noise if any (uniforms (M, N, H + 1), then uniform states), then one
        splitmix64 seed per episode, ``rng.integers(0, 2^63 - 1)``. When the arrivals are inverse-CDF
        draws (:meth:`ArrivalProcess.inverse_cdf_table`), there is no sensing noise and ``rng`` is a
        PCG64 generator, all of it is one ``random_raw`` call whose outputs the kernel reads exactly as
        ``rng.random`` and ``rng.integers`` would (same values, same generator state afterwards).
        """
        inst = self.instance
        M, n, H = self.M, self.n_users, self.horizon
        # a fresh array per episode: views handed out earlier (info["channel"]) stay valid
        self.exo = exo = np.empty((M, H + 1, 3, n), dtype=np.int64)
        n_chan = M * n * (H + 1)
        noisy = self.obs_noise > 0
        table = inst.arrivals.inverse_cdf_table()
        if table is not None and not noisy and type(rng.bit_generator) is np.random.PCG64:
            n_arr = M * n * H
            raw = rng.bit_generator.random_raw(n_arr + n_chan + M)
            draw_exogenous(raw, table[0], table[1], _NO_ARRIVALS, self._cum, self._c0cum, exo, True)
            self.rng_state[:] = _lemire_seeds(rng, raw[n_arr + n_chan:])
        else:
            if table is not None:
                arrs = _NO_ARRIVALS
                u_arr = rng.random(M * n * H)
            else:
                arrs = np.ascontiguousarray(inst.arrivals.sample_many(rng, M, H, split=split), dtype=np.int64)
                u_arr = np.zeros(0)
                table = _NO_TABLE
            u = np.concatenate([u_arr, rng.random(n_chan)])
            # the kernel reads 64-bit outputs: give it x with (x >> 11) / 2^53 = u exactly
            draw_exogenous((u * _TWO53).astype(np.uint64) << np.uint64(11), table[0], table[1], arrs, self._cum,
                           self._c0cum, exo, not noisy)
            if noisy:
                chans = exo[:, :, 1, :].transpose(0, 2, 1)  # (M, N, H + 1)
                swap = rng.random((M, n, H + 1)) < self.obs_noise
                rand_c = rng.integers(1, inst.n_channels + 1, size=(M, n, H + 1))
                exo[:, :, 2, :] = np.where(swap, rand_c, chans).transpose(0, 2, 1)
            self.rng_state[:] = rng.integers(0, _INT64_MAX, size=M, dtype=np.int64).astype(np.uint64)
        self.start(exo)

    def reset_each(self, rngs: list[np.random.Generator], split: str) -> None:
        """Draw episode m from its own generator ``rngs[m]``, exactly as a one-episode core (i.e.
        ``SchedulingEnv.reset``) draws it, then empty the queues (the list-of-seeds reset of
        :class:`.vector_env.SchedulingVectorEnv`)."""
        if len(rngs) != self.M:
            raise ValueError(f"rngs must hold one generator per episode ({self.M}), got {len(rngs)}")
        one = getattr(self, "_one", None)
        if one is None:
            one = self._one = BatchCore(self.instance, 1, self.partial, self.obs_noise, self.lam)
        one.lam = self.lam
        exo = np.empty_like(self.exo)  # a fresh array: info["channel"] views of earlier episodes stay valid
        for m, rng in enumerate(rngs):
            one.reset(rng, split)
            exo[m] = one.exo[0]
            self.rng_state[m] = one.rng_state[0]
        self.exo = exo
        self.start(exo)

    def start(self, exo: np.ndarray) -> None:
        """Slot 0 of new episodes on the exogenous draws ``exo``: empty queues, first observations."""
        self.t = 0
        begin_episode(self.q, exo, self.buffer_size, self.obs.reshape(-1))


def _lemire_seeds(rng: np.random.Generator, raw: np.ndarray) -> list[int]:
    """``rng.integers(0, 2^63 - 1, size=len(raw), dtype=int64)`` computed from the next 64-bit outputs
    of ``rng``, ``raw``, already drawn.

    numpy draws bounded integers by Lemire's method: with r = 2^63 - 1 values, the integer is
    floor(x r / 2^64) for the next output x, unless the low 64 bits of x r fall below
    (2^64 - r) mod r = 2, in which case x is discarded and the following output taken (probability
    2^-62; past the end of ``raw`` the outputs come from ``rng``, so its state ends where numpy's would).
    """
    r = _INT64_MAX
    stream = iter(raw.tolist())
    out = []
    for _ in range(raw.size):
        while True:
            x = next(stream, None)
            m = (int(rng.bit_generator.random_raw()) if x is None else x) * r
            if m & _MASK64 >= 2:
                break
        out.append(m >> 64)
    return out


class CoreViews:
    """Properties shared by :class:`SchedulingEnv` and :class:`SchedulingBatch`, forwarded to their
    :class:`BatchCore` ``_core``; ``_ep`` selects the episode axis (0 for the env, all for the batch)."""

    _core: BatchCore
    _ep: int | slice

    @property
    def lam(self) -> float:
        """The Lagrange multiplier lambda of the reward eq. (8); settable between steps."""
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
        """Counters q_{i,k}(t), shape ([M,] N, tau_max + 1), zero where k > tau_i (a live view)."""
        return self._core.q[self._ep]

    @property
    def channel(self) -> np.ndarray:
        """True channel states c_i(t) of the current slot (1-based), shape ([M,] N)."""
        core = self._core
        return core.exo[self._ep, min(core.t, core.horizon), 1]

    @property
    def shown_channel(self) -> np.ndarray:
        """The channel states the observation shows (noisy when ``obs_noise > 0``), shape ([M,] N)."""
        core = self._core
        return core.exo[self._ep, min(core.t, core.horizon), 2]

    @property
    def arrivals(self) -> np.ndarray:
        """The episodes' arrival sequences, shape ([M,] N, H) (drawn at reset, exogenous; a view)."""
        a = self._core.exo[self._ep, : self._core.horizon, 0]
        return np.swapaxes(a, -1, -2)
