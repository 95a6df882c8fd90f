"""Gymnasium environment of the multi-user delay-constrained scheduling system (RSD4 spec §1).

One step is one slot (spec §1.2): observe, choose a per-packet energy for every counter, transmit
(eq. (1), success probability eq. (5)), shift the counters toward index 0 and expire the head
(eqs. (2)-(3)), let the slot's arrivals enter the last counter, step the channel. The reward is
eq. (8): sum_i beta_i S_i(t) - lambda E_i(t).

Vectorised over users: everything exogenous (arrivals, channel paths, noisy channel readings) is
drawn in full at ``reset`` (for Poisson arrivals, together with the channel uniforms and the
transmission seeds, in one ``random_raw`` call read exactly as ``rng.random``/``rng.integers`` would,
and inverted in one kernel); a step is one call of the compiled Numba kernel
:func:`.kernels.step_env` (its entry point, without the dispatcher's per-call type resolution) that
does the whole slot for all users and counters in place on preallocated state, packed so that the
call unboxes two arrays (state, action). Each reset allocates the episode's output rows (per slot:
the observation and the four ``info`` arrays), which the kernel fills in place, so a step returns
fresh views of rows that no later step or reset writes. Nothing the constructor validated is
re-checked per step; the per-step Python work is the action's type check, six array views and the
``info`` dict (``benchmarks/bench_scheduling.py`` measures the env against a per-packet Python
loop). Binomial successes are exact: one Bernoulli draw per packet for counters of <= 12 packets,
else the inverse CDF from one uniform; uniforms come from a per-episode splitmix64 stream seeded
from ``np_random`` at reset.

Spaces. The action is a flat Box [-1, 1]^B with B = sum_i (tau_i + 1), the global buffer's layout
(user-major, counter index k ascending); a in [-1, 1] means energy e = e_max (a + 1)/2 per packet of
that counter (actions outside [-1, 1] are clipped; NaN raises). The observation is the global buffer
of counters q_{i,k}(t) followed, when fully observed, by the N channel states c_i(t) in 1..N_c
(with ``obs_noise = eta`` the shown state is c with probability 1 - eta, else uniform). Partially
observed (``partial=True``, spec §1.7): the channel is not shown. ``info`` carries per-user
``S``, ``E``, ``D``, ``reward`` (r_{i,t}, eq. (8)) and the true ``channel`` of the slot.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from .core import BatchCore, CoreViews, build_instance, check_instance_kwargs, compiled_step
from .instances import SchedulingInstance
from .kernels import binomial_from_uniform

__all__ = ["SchedulingEnv", "binomial_from_uniform", "check_instance_kwargs"]

_F64, _F32 = np.dtype(np.float64), np.dtype(np.float32)


class SchedulingEnv(CoreViews, gym.Env):
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
        instance = build_instance(instance, instance_seed, split, instance_kwargs)
        self._core = core = BatchCore(instance, 1, partial, obs_noise, lam, slot_outputs=True)
        self._ep = 0
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
        self._obs_dim = core.obs_dim
        self._kernel32 = self._kernel64 = None  # the compiled step kernel per action dtype, resolved at first use
        self._bind_episode()
        self._next_t = -1  # the slot the next step plays; -1 until reset

    def _bind_episode(self) -> None:
        """The current episode's arrays as the step reads them: the kernel's state, then the per-slot
        output rows (observations, S, E, D, reward) and the channel path c(t)."""
        core = self._core
        info, obs = core.slot_output_views()
        self._episode_views = (core.state, obs, info[0], info[1], info[2], info[3], core.exo[0, :, 1])
        self._obs0 = core.obs[0]  # the observation at reset (a view, copied when returned)

    @property
    def t(self) -> int:
        """Index of the current slot (0 after reset, H at the end of an episode)."""
        t = self._next_t
        return t if t >= 0 else self._core.t

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the compiled kernels (not picklable; resolved again at the next step) and the
        views of the core's arrays (rebuilt on unpickling)."""
        state = self.__dict__.copy()
        state["_kernel32"] = state["_kernel64"] = None
        del state["_episode_views"], state["_obs0"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._bind_episode()

    # ----------------------------------------------------------------------------------- helpers
    def energies_to_action(self, energies: np.ndarray) -> np.ndarray:
        """Map per-counter energies (N, tau_max + 1) or flat (B,) in [0, e_max] to the action in [-1, 1]."""
        e = np.asarray(energies, dtype=float)
        if e.shape == (self.n_users, self.n_counters):
            e = e.ravel()[self._flat_index]
        if e.shape != (self.buffer_size,):
            raise ValueError(
                f"energies must have shape ({self.n_users}, {self.n_counters}) or ({self.buffer_size},), got {e.shape}"
            )
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
        core = self._core
        core.reset(self.np_random, split)
        self._bind_episode()  # a fresh episode array: rows handed out in earlier episodes stay as they were
        self._next_t = 0
        return self._obs0.copy(), {"channel": self._episode_views[-1][0].copy()}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, np.ndarray]]:
        """Advance one slot (spec §1.2 order (ii)-(vi)); ``truncated`` is True at t = H.

        The whole slot is one call of :func:`.kernels.step_env`; the observation and the ``info``
        arrays are fresh views of this slot's rows of the episode's outputs, which no later step or
        reset overwrites (``info["channel"]``, the true c(t) of the slot, is a view of this episode's
        channel path). The reward is sum_i r_{i,t}, summed in user order.
        """
        t = self._next_t
        if t < 0:
            raise RuntimeError("call reset() before step() (and after an episode ends)")
        a = action
        # the compiled kernels take 1-D float32 / float64 actions as they are; others are converted
        if type(a) is np.ndarray and a.ndim == 1:
            dtype = a.dtype
            if dtype is _F32:
                kernel = self._kernel32
            elif dtype is _F64:
                kernel = self._kernel64
            else:
                a = np.asarray(action, dtype=np.float64).reshape(-1)
                kernel = self._kernel64
        else:
            a = np.asarray(action, dtype=np.float64).reshape(-1)
            kernel = self._kernel64
        if kernel is None:
            kernel = self._resolve_kernel(a)
        state, obs, s, e, d, reward, channel = self._episode_views
        r = kernel(t, state, a)  # NaN, changing nothing, for a wrong length or a NaN action
        if r != r:
            if a.shape[0] != self.buffer_size:
                raise ValueError(f"action must have {self.buffer_size} entries (sum_i (tau_i + 1)), got {a.size}")
            raise ValueError("action contains NaN")
        truncated = t + 1 >= self.horizon
        if truncated:
            self._next_t = -1  # the episode has ended
            self._core.t = t + 1
        else:
            self._next_t = t + 1  # (the core's t is only written at reset and at the end)
        return (
            obs[t],
            r,
            False,
            truncated,
            {"S": s[t], "E": e[t], "D": d[t], "reward": reward[t], "channel": channel[t]},
        )

    def _resolve_kernel(self, a: np.ndarray):
        """The compiled step kernel for the dtype of the action ``a`` (float32 or float64)."""
        kernel = compiled_step(0, self._core.state, a)
        if a.dtype is _F32:
            self._kernel32 = kernel
        else:
            self._kernel64 = kernel
        return kernel
