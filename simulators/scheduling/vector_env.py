"""Gymnasium vector environment over the lock-step batch of the scheduling system (RSD4 spec §1).

``SchedulingVectorEnv`` is :class:`~gymnasium.vector.VectorEnv` with the speed of
:class:`~.vector.SchedulingBatch`: M sub-environments of one instance advanced by one Numba kernel
call per slot (:func:`.vector.step_episodes`, the step both share; the slot is spec §1.2 (ii)-(vi):
transmit with eq. (1) and success probability eq. (5), shift and expire eqs. (2)-(3), arrivals,
channel step; reward eq. (8) r_t = sum_i beta_i S_i(t) - lambda E_i(t)). Registered as the vector
entry point of the scheduling ids, so

    envs = gymnasium.make_vec("simulators/Scheduling-v0", num_envs=64, vectorization_mode="vector_entry_point",
                              n_users=20, lam=0.5)

returns it (also ``SchedulingPO-v0``, channel hidden, and ``SchedulingNoisy-v0``, sensing noise);
every keyword of :class:`~.env.SchedulingEnv` / :func:`~.instances.make_instance` is accepted.

Semantics. A sub-environment is a :class:`~.env.SchedulingEnv`: the same spaces (observation: the
global buffer of counters, then the shown channel unless partial; action: Box [-1, 1]^B float32),
the same per-step ``info`` keys, batched by gymnasium's vector convention (each key an array with a
leading num_envs axis, ``S``/``E``/``D``/``reward``/``channel`` of shape (M, N), and a boolean mask
``_key``). All sub-environments share the horizon H and start together, so they truncate together at
t = H (``terminated`` is always False) and reset together. Autoreset (``metadata["autoreset_mode"]``):

- ``NEXT_STEP`` (default): the step after the truncation ignores the actions, starts new episodes and
  returns their first observations with reward 0, terminated and truncated False, and the reset
  ``info`` (``channel`` c(0));
- ``SAME_STEP``: the truncation step returns the new episodes' first observations; ``info`` is the
  reset ``info`` plus ``final_obs`` (an object array of the last observations) and ``final_info``
  (the step's ``info``), each with its mask;
- ``DISABLED``: stepping after the truncation raises; call ``reset()`` (a ``reset_mask`` option must
  select every sub-environment, as they are in lock-step).

Autoresets draw from the split given to the constructor, as a ``SchedulingEnv`` autoreset by
gymnasium's ``SyncVectorEnv`` does.

Seeding. ``reset(seed=s)`` with an int seeds one generator that draws all M episodes, exactly as
``SchedulingBatch.reset(seed=s)`` (bit-identical trajectories under the same actions, including the
episodes after autoresets, which continue that generator). ``reset(seed=[s_0, ..., s_{M-1}])`` seeds
one generator per sub-environment: sub-environment m then reproduces ``SchedulingEnv`` reset with
``s_m`` (and the episodes after it), so the vector env equals ``SyncVectorEnv`` of ``SchedulingEnv``
reset with the same list; its resets draw the M episodes one by one (M small draws instead of one).
Note that ``SyncVectorEnv`` reads an int seed s as the list [s, s + 1, ...]; here an int seed is the
batch's single generator, a different (equally distributed) draw.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from .core import BatchCore, CoreViews, build_instance
from .instances import SchedulingInstance
from .vector import check_actions, step_episodes

__all__ = ["SchedulingVectorEnv"]

_INFO_KEYS = ("S", "E", "D", "reward", "channel")


class SchedulingVectorEnv(CoreViews, VectorEnv):
    """M lock-step scheduling episodes (RSD4 spec §1) as a gymnasium ``VectorEnv``.

    Parameters
    ----------
    instance:
        A :class:`SchedulingInstance`; if ``None`` one is drawn by :func:`make_instance` from
        ``instance_seed`` and ``instance_kwargs`` (as for :class:`SchedulingEnv`).
    num_envs:
        M, the number of sub-environments (lock-step episodes).
    partial, obs_noise, lam, split:
        As for :class:`SchedulingEnv` (channel hidden; sensing error eta; the multiplier lambda of
        eq. (8), settable between steps as ``envs.lam``; ``"train"`` or ``"eval"`` part of a trace).
    autoreset_mode:
        ``AutoresetMode.NEXT_STEP`` (default), ``SAME_STEP`` or ``DISABLED`` (or their string values).

    The properties ``lam``, ``t``, ``queues``, ``channel``, ``shown_channel`` and ``arrivals`` are
    those of :class:`SchedulingEnv` with a leading num_envs axis.
    """

    metadata: dict[str, Any] = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}

    def __init__(
        self,
        instance: SchedulingInstance | None = None,
        num_envs: int = 16,
        *,
        partial: bool = False,
        obs_noise: float = 0.0,
        lam: float = 1.0,
        split: str = "train",
        instance_seed: int = 0,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        render_mode: str | None = None,
        **instance_kwargs: Any,
    ) -> None:
        if render_mode is not None:
            raise ValueError(f"render_mode must be None (no rendering), got {render_mode!r}")
        try:
            mode = AutoresetMode(autoreset_mode)
        except ValueError:
            allowed = ", ".join(f"AutoresetMode.{m.name} ({m.value!r})" for m in AutoresetMode)
            raise ValueError(f"autoreset_mode must be one of {allowed}, got {autoreset_mode!r}") from None
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)):
            raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
        instance = build_instance(instance, instance_seed, split, instance_kwargs)
        self._core = core = BatchCore(instance, num_envs, partial, obs_noise, lam)
        self._ep = slice(None)
        self.instance, self.split = instance, split
        self.partial, self.obs_noise = core.partial, core.obs_noise
        self.num_envs = core.M
        self.n_users, self.horizon, self.buffer_size = core.n_users, core.horizon, core.buffer_size
        self.autoreset_mode = mode
        self.metadata = {**type(self).metadata, "autoreset_mode": mode}
        self.render_mode = None
        self.single_observation_space = core.observation_space()
        self.single_action_space = spaces.Box(-1.0, 1.0, shape=(core.buffer_size,), dtype=np.float32)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._rngs: list[np.random.Generator] | None = None  # per-sub-env generators (list seeds)
        mask = np.ones(self.num_envs, dtype=bool)
        mask.flags.writeable = False
        self._mask = mask  # the info masks: every sub-env has every key
        self._needs_reset = True
        self._autoreset = False

    # ----------------------------------------------------------------------------------- reset
    def reset(self, *, seed: int | list[int | None] | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Start M new episodes (empty queues, fresh exogenous randomness); ``(obs (M, D), info)``.

        ``seed``: an int (one generator for all M episodes, as :class:`SchedulingBatch`), a list of M
        ints or None (one generator per sub-environment, as ``SchedulingEnv``; None keeps that
        sub-environment's generator), or None (continue the current generator(s)). ``options``:
        ``split`` (``"train"``/``"eval"``, this reset only) and ``reset_mask`` (a boolean array that
        must select all sub-environments).
        """
        split = self.split
        if options:
            unknown = set(options) - {"split", "reset_mask"}
            if unknown:
                raise ValueError(f"unknown reset options {sorted(unknown)}; allowed: split, reset_mask")
            split = options.get("split", split)
            if split not in ("train", "eval"):
                raise ValueError(f"options['split'] must be 'train' or 'eval', got {split!r}")
            if "reset_mask" in options:
                m = options["reset_mask"]
                if not (isinstance(m, np.ndarray) and m.dtype == np.bool_ and m.shape == (self.num_envs,)
                        and m.all()):
                    raise ValueError(f"options['reset_mask'] must be a boolean array of shape ({self.num_envs},) "
                                     "selecting every sub-environment: the episodes run in lock-step and "
                                     "reset together")
        self._seed(seed)
        return self._start_episodes(split)

    def _seed(self, seed: object) -> None:
        """Set the generator(s) from ``seed`` (see :meth:`reset`); ValueError naming ``seed`` if invalid."""
        if seed is None:
            return
        if _is_seed(seed):
            self._np_random, self._np_random_seed = seeding.np_random(int(seed))
            self._rngs = None
            return
        if not (isinstance(seed, (list, tuple)) and len(seed) == self.num_envs
                and all(s is None or _is_seed(s) for s in seed)):
            raise ValueError(f"seed must be None, a non-negative int (one generator for all {self.num_envs} "
                             f"sub-environments) or a list of {self.num_envs} non-negative ints or None "
                             f"(one per sub-environment), got {seed!r}")
        old = self._rngs
        rngs = []
        for m, s in enumerate(seed):
            if s is None and old is not None:
                rngs.append(old[m])  # keep sub-environment m's generator, as gymnasium.Env.reset(seed=None)
            else:
                rngs.append(seeding.np_random(None if s is None else int(s))[0])
        self._rngs = rngs

    def _start_episodes(self, split: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Draw M new episodes from the current generator(s); the first observations and reset info."""
        core = self._core
        if self._rngs is None:
            core.reset(self.np_random, split)
        else:
            core.reset_each(self._rngs, split)
        self._needs_reset = self._autoreset = False
        return core.obs.copy(), {"channel": core.exo[:, 0, 1].copy(), "_channel": self._mask}

    # ----------------------------------------------------------------------------------- step
    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                                 dict[str, Any]]:
        """One slot of all M sub-environments (:func:`.vector.step_episodes`), or the autoreset step.

        Returns ``(obs (M, D) float32, rewards (M,), terminated (M,) False, truncated (M,) (t = H),
        info)``; ``actions`` must have shape (M, B) (float32 or float64; others are converted; values
        outside [-1, 1] are clipped; NaN raises).
        """
        if self._needs_reset:
            raise RuntimeError("call reset() before step() (with autoreset_mode DISABLED, also after the "
                               "episodes are truncated)")
        M = self.num_envs
        if self._autoreset:  # NEXT_STEP: the step after the truncation starts new episodes
            a = check_actions(actions, M, self.buffer_size)
            if np.isnan(a).any():
                raise ValueError("actions contain NaN")
            obs, info = self._start_episodes(self.split)
            return obs, np.zeros(M), np.zeros(M, dtype=bool), np.zeros(M, dtype=bool), info
        obs, rewards, info = step_episodes(self._core, actions)
        mask = self._mask
        for key in _INFO_KEYS:
            info["_" + key] = mask
        truncated = self._core.t >= self.horizon
        if truncated:
            mode = self.autoreset_mode
            if mode is AutoresetMode.NEXT_STEP:
                self._autoreset = True
            elif mode is AutoresetMode.DISABLED:
                self._needs_reset = True
            else:  # SAME_STEP
                final_obs = np.empty(M, dtype=object)
                final_obs[:] = list(obs)
                obs, reset_info = self._start_episodes(self.split)
                info = {**reset_info, "final_obs": final_obs, "_final_obs": mask, "final_info": info,
                        "_final_info": mask}
        return obs, rewards, np.zeros(M, dtype=bool), np.full(M, truncated), info


def _is_seed(s: object) -> bool:
    """A non-negative integer (Python or numpy, not bool): what gymnasium accepts as a seed."""
    return isinstance(s, (int, np.integer)) and not isinstance(s, (bool, np.bool_)) and s >= 0
