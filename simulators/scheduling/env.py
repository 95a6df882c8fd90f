"""Gymnasium environment of the multi-user delay-constrained scheduling system (RSD4 spec §1).

One step is one slot (spec §1.2): observe, choose a per-packet energy for every counter, transmit
(eq. (1), success probability eq. (5)), shift the counters toward index 0 and expire the head
(eqs. (2)-(3)), let the slot's arrivals enter the last counter, step the channel. The reward is
eq. (8): sum_i beta_i S_i(t) - lambda E_i(t).

Vectorised over users: everything exogenous (arrivals, channel paths, noisy channel readings) is
drawn in full at ``reset`` (for Poisson arrivals, together with the channel uniforms and the
transmission seeds, in one ``random_raw`` call read exactly as ``rng.random``/``rng.integers`` would,
and inverted in one kernel); a step is one call of the compiled Numba kernel
:func:`.kernels.step_slot` (its entry point, without the dispatcher's per-call type resolution) that
does the whole slot for all users and counters in place on preallocated state. Nothing the
constructor validated is re-checked per step; the per-step Python work is the action's dtype/size
check, two small output arrays and the ``info`` dict (``benchmarks/bench_scheduling.py`` measures
the env against a per-packet Python loop). Binomial successes are exact: one Bernoulli draw per packet
for counters of <= 12 packets, else the inverse CDF from one uniform; uniforms come from a
per-episode splitmix64 stream seeded from ``np_random`` at reset.

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
        self._core = core = BatchCore(instance, 1, partial, obs_noise, lam)
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
        self._channel_path = core.exo[0, :, 1]
        self._needs_reset = True

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the compiled kernels (not picklable; resolved again at the next step)."""
        state = self.__dict__.copy()
        state["_kernel32"] = state["_kernel64"] = None
        return state

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
        self._channel_path = self._core.exo[0, :, 1]  # (H + 1, N): c(t), a fresh array each episode
        self._needs_reset = False
        return self._core.obs[0].copy(), {"channel": self.channel.copy()}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, np.ndarray]]:
        """Advance one slot (spec §1.2 order (ii)-(vi)); ``truncated`` is True at t = H.

        The whole slot is one call of :func:`.kernels.step_slot`; the observation and the ``info``
        arrays are fresh each step (``info["channel"]``, the true c(t) of the slot, is a view of this
        episode's channel path, which a later reset does not overwrite). The reward is
        sum_i r_{i,t}, summed in user order.
        """
        if self._needs_reset:
            raise RuntimeError("call reset() before step() (and after an episode ends)")
        a = action
        # the compiled kernel takes 1-D float32 / float64 actions as they are; others are converted
        if type(a) is not np.ndarray or a.ndim != 1 or (a.dtype is not _F64 and a.dtype is not _F32):
            a = np.asarray(action, dtype=np.float64).reshape(-1)
        if a.shape[0] != self.buffer_size:
            raise ValueError(f"action must have {self.buffer_size} entries (sum_i (tau_i + 1)), got {a.size}")
        core = self._core
        t = core.t
        obs = np.empty(self._obs_dim, dtype=np.float32)
        info = np.empty((4, self.n_users))
        args = (t, core.q, core.rng_state, core.exo, core.tau, core.fpar, a, info, obs)
        if a.dtype is _F32:
            if self._kernel32 is None:
                self._kernel32 = compiled_step(*args)
            r = self._kernel32(*args)
        else:  # float64 (the guard above)
            if self._kernel64 is None:
                self._kernel64 = compiled_step(*args)
            r = self._kernel64(*args)
        if r != r:
            raise ValueError("action contains NaN")
        core.t = t = t + 1
        truncated = t >= self.horizon
        self._needs_reset = truncated
        return obs, r, False, truncated, {"S": info[0], "E": info[1], "D": info[2], "reward": info[3],
                                          "channel": self._channel_path[t - 1]}
