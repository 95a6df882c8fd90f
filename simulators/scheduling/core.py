"""State of M lock-step scheduling episodes of one instance, shared by :class:`SchedulingEnv` (M = 1)
and :class:`SchedulingBatch` (RSD4 spec §1); the dynamics are the kernels of :mod:`.kernels`.

Everything validated here is validated once, at construction; a step passes preallocated arrays to
one Numba kernel (:func:`.kernels.step_slot`, or :func:`.kernels.step_env` for the single env, which
takes the same state packed: ``q``, ``rng_state``, ``tau`` and ``fpar`` are views of
``BatchCore.state``, ``exo`` of ``BatchCore.episode``, whose address the state holds).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import numba as nb
import numpy as np
from gymnasium import spaces

from .channels import initial_law
from .instances import SchedulingInstance, make_instance
from .kernels import (
    begin_episode,
    bind_episode,
    channel_thresholds,
    draw_exogenous,
    episode_layout,
    state_layout,
    step_env,
)

__all__ = ["BatchCore", "CoreViews", "build_instance", "check_instance_kwargs", "compiled_step"]

_NO_TABLE = (np.zeros((0, 1)), np.zeros((0, 1), dtype=np.int64))
_NO_ARRIVALS = np.zeros((0, 0, 0), dtype=np.int64)
_INT64_MAX = int(np.iinfo(np.int64).max)
_MASK64 = (1 << 64) - 1
_TWO53 = 9007199254740992.0
_I64, _F64, _F32 = np.dtype(np.int64), np.dtype(np.float64), np.dtype(np.float32)


def check_instance_kwargs(kwargs: dict) -> None:
    """Raise ValueError naming any keyword that neither the env nor :func:`make_instance` accepts."""
    allowed = set(inspect.signature(make_instance).parameters) - {"seed"}
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        raise ValueError(
            f"unknown scheduling parameter(s) {unknown}; env parameters: partial, obs_noise, "
            f"lam, split, instance_seed; instance parameters: {', '.join(sorted(allowed))}"
        )


_COMPILED: dict[tuple, Callable] = {}


def compiled_step(*args: object) -> Callable:
    """The compiled :func:`.kernels.step_env` for the types of ``args`` = (t, state, action), to be
    called directly.

    A call through the Numba dispatcher first resolves the types of its arguments; the env resolves
    them once and calls the compiled entry point, which trusts them: every later call must pass
    arrays of exactly these dtypes and dimensions (``state`` is always 1-D int64).
    The action (the last argument) is compiled for any strides ('A' layout), so any 1-D array of its
    dtype may be passed.
    """
    sig = [nb.typeof(a) for a in args]
    sig[-1] = nb.types.Array(sig[-1].dtype, 1, "A")
    sig = tuple(sig)
    fn = _COMPILED.get(sig)
    if fn is None:
        fn = _COMPILED[sig] = step_env.compile(sig)
    return fn


def build_instance(
    instance: SchedulingInstance | None, instance_seed: int, split: str, instance_kwargs: dict
) -> SchedulingInstance:
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
    """State and exogenous randomness of M lock-step episodes of one instance (layout: :mod:`.kernels`).

    ``state`` holds the persistent state (``q``, ``rng_state``, ``tau``, ``fpar`` are views of it);
    each reset allocates a fresh ``episode`` array holding ``exo`` and, with ``slot_outputs`` (one
    episode, for :func:`.kernels.step_env`), room for every slot's ``info`` and observation.
    """

    def __init__(
        self,
        instance: SchedulingInstance,
        num_episodes: int,
        partial: bool,
        obs_noise: float,
        lam: float,
        slot_outputs: bool = False,
    ) -> None:
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
        if slot_outputs and M != 1:
            raise ValueError("slot_outputs is for one episode")
        self.slot_outputs = bool(slot_outputs)
        tau = np.asarray(inst.tau, dtype=np.int64)
        self.flat_user = np.repeat(np.arange(n, dtype=np.int64), tau + 1)
        self.flat_k = np.concatenate([np.arange(t + 1, dtype=np.int64) for t in tau])
        self.buffer_size = int(self.flat_user.size)
        self.obs_dim = self.buffer_size + (0 if self.partial else n)
        # the packed state: header (N, K, H, D, M, B, episode address), then q, rng_state, tau and fpar
        # (views below), the user of each counter, then the step's scratch (:func:`.kernels.state_layout`)
        self._state_layout = tuple(int(x) for x in state_layout(M, n, K, self.buffer_size))
        self._episode_layout = tuple(int(x) for x in episode_layout(M, n, H, self.obs_dim, self.slot_outputs))
        self.state = np.zeros(self._state_layout[-1], dtype=np.int64)
        self.state[:6] = (n, K, H, self.obs_dim, M, self.buffer_size)
        self._bind_state()
        self.tau[:] = tau
        # fpar = (d_i^3, beta_i, e_max, lambda): one float array for the kernel
        self.fpar[:] = np.concatenate([inst.dist.astype(float) ** 3, inst.beta.astype(float), [float(inst.e_max), 0.0]])
        ofu = self._state_layout[4]
        self.state[ofu : ofu + self.buffer_size] = self.flat_user
        self.lam = lam
        self._new_episode()
        self.exo[:] = 1
        self.exo[:, :, 0] = 0
        self.obs = np.zeros((M, self.obs_dim), dtype=np.float32)  # the observation at reset
        self._obs_flat = self.obs.reshape(-1)
        self.t = 0
        # channel sampling tables, validated once (the instance checked the kernels)
        cum = np.cumsum(inst.kernels, axis=-1)
        cum[..., -1] = 1.0
        c0 = np.cumsum(initial_law(inst.kernels, inst.channel_start), axis=-1)
        c0[:, -1] = 1.0
        self._cum_k, self._c0cum = channel_thresholds(cum), np.ascontiguousarray(c0)

    def _bind_state(self) -> None:
        """``q``, ``rng_state``, ``tau`` and ``fpar`` as views of ``state``."""
        M, n, K = self.M, self.n_users, self.n_counters
        oq, orng, otau, ofpar, ofu = self._state_layout[:5]
        s = self.state
        self.q = s[oq:orng].reshape(M, n, K)
        self.rng_state = s[orng:otau].view(np.uint64)
        self.tau = s[otau:ofpar]
        self.fpar = s[ofpar:ofu].view(np.float64)

    def _new_episode(self) -> np.ndarray:
        """A fresh episode array (``exo`` a view of its head): views handed out earlier stay valid."""
        self.episode = episode = np.empty(self._episode_layout[-1], dtype=np.int64)
        self.exo = np.ndarray((self.M, self.horizon + 1, 3, self.n_users), _I64, episode)
        if self.slot_outputs:
            bind_episode(self.state, episode)  # step_env finds it through the state (self.episode keeps it alive)
        return episode

    def slot_output_views(self) -> tuple[np.ndarray, np.ndarray]:
        """(info (4, H, N) float64: S, E, D, r per slot; observations (H, D) float32) of the current
        episode, written by :func:`.kernels.step_env` (``slot_outputs`` only)."""
        _, oinfo, oobs, _ = self._episode_layout
        H, e = self.horizon, self.episode
        return (np.ndarray((4, H, self.n_users), _F64, e, 8 * oinfo), np.ndarray((H, self.obs_dim), _F32, e, 8 * oobs))

    def __getstate__(self) -> dict:
        """Pickle without the views of ``state`` and ``episode`` (rebuilt on unpickling, so that they
        stay views)."""
        state = self.__dict__.copy()
        for key in ("q", "rng_state", "tau", "fpar", "exo", "_obs_flat"):
            state.pop(key, None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._bind_state()
        self.exo = np.ndarray((self.M, self.horizon + 1, 3, self.n_users), _I64, self.episode)
        self._obs_flat = self.obs.reshape(-1)
        if self.slot_outputs:
            bind_episode(self.state, self.episode)  # the unpickled episode array is a new one

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
        self._new_episode()
        exo = self.exo
        n_chan = M * n * (H + 1)
        noisy = self.obs_noise > 0
        table = inst.arrivals.inverse_cdf_table()
        if table is not None and not noisy and type(rng.bit_generator) is np.random.PCG64:
            n_arr = M * n * H
            raw = rng.bit_generator.random_raw(n_arr + n_chan + M)
            draw_exogenous(raw, table[0], table[1], _NO_ARRIVALS, self._cum_k, self._c0cum, exo, True)
            if M == 1 and (x := int(raw[-1]) * _INT64_MAX) & _MASK64 >= 2:
                self.rng_state[0] = x >> 64  # _lemire_seeds of one output, without its rare redraw
            else:
                self.rng_state[:] = _lemire_seeds(rng, raw[n_arr + n_chan :])
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
            draw_exogenous(
                (u * _TWO53).astype(np.uint64) << np.uint64(11),
                table[0],
                table[1],
                arrs,
                self._cum_k,
                self._c0cum,
                exo,
                not noisy,
            )
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
        self._new_episode()  # a fresh array: info["channel"] views of earlier episodes stay valid
        exo = self.exo
        for m, rng in enumerate(rngs):
            one.reset(rng, split)
            exo[m] = one.exo[0]
            self.rng_state[m] = one.rng_state[0]
        self.start(exo)

    def start(self, exo: np.ndarray) -> None:
        """Slot 0 of new episodes on the exogenous draws ``exo``: empty queues, first observations."""
        self.t = 0
        begin_episode(self.q, exo, self.buffer_size, self._obs_flat)


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
        return core.exo[self._ep, min(self.t, core.horizon), 1]

    @property
    def shown_channel(self) -> np.ndarray:
        """The channel states the observation shows (noisy when ``obs_noise > 0``), shape ([M,] N)."""
        core = self._core
        return core.exo[self._ep, min(self.t, core.horizon), 2]

    @property
    def arrivals(self) -> np.ndarray:
        """The episodes' arrival sequences, shape ([M,] N, H) (drawn at reset, exogenous; a view)."""
        a = self._core.exo[self._ep, : self._core.horizon, 0]
        return np.swapaxes(a, -1, -2)
