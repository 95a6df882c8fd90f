"""Input scaling for the value networks: observations and state divided by their spaces' bounds.

``MastConfig.input_scale="bounds"`` [our choice, not in the MAST paper or PyMARL, which feed raw
features]: every feature x of an agent's observation and of the global state is divided by
s = max(|low|, |high|) of its space when that is finite and positive (else s = 1), so bounded features
lie in [-1, 1]. On LBF the raw features run to 7 (grid coordinates) and the dense hypernetwork mixer then
starts with |Q_tot| of several units and first gradients of norm ~10^3, which a 90%-sparse mask hides
(see the README, MAST). The scaling is a fixed diagonal map applied where episodes are collected, so the
replay buffer, the agents and the mixer all see the same scaled inputs; the task itself is untouched.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from deeprl.mast.config import INPUT_SCALES


def bound_scale(space: spaces.Box) -> np.ndarray:
    """Per-feature divisor s = max(|low|, |high|) where finite and > 0, else 1 (float32)."""
    s = np.maximum(np.abs(np.asarray(space.low, np.float64)), np.abs(np.asarray(space.high, np.float64)))
    return np.where(np.isfinite(s) & (s > 0), s, 1.0).astype(np.float32)


class ScaledInputs:
    """A MARL task (PettingZoo parallel API + ``state()``/``env_info()``/``success()``) whose observations
    and state are divided by :func:`bound_scale` of their spaces; everything else is the task's."""

    def __init__(self, env: Any) -> None:
        self.env = env
        self._obs_scale = {a: bound_scale(env.observation_space(a)) for a in env.possible_agents}
        self._state_scale = bound_scale(env.state_space)
        self.state_space = self._scaled_box(env.state_space, self._state_scale)
        self._obs_spaces = {a: self._scaled_box(env.observation_space(a), self._obs_scale[a])
                            for a in env.possible_agents}

    @staticmethod
    def _scaled_box(space: spaces.Box, scale: np.ndarray) -> spaces.Box:
        return spaces.Box(space.low / scale, space.high / scale, dtype=np.float32)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.env, name)

    def observation_space(self, agent: str) -> spaces.Box:
        return self._obs_spaces[agent]

    def _scale(self, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {a: np.asarray(o, np.float32) / self._obs_scale[a] for a, o in obs.items()}  # float32 / float32

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        obs, infos = self.env.reset(seed=seed, options=options)
        return self._scale(obs), infos

    def step(self, actions: dict[str, int]) -> tuple[dict, dict, dict, dict, dict]:
        obs, rew, term, trunc, infos = self.env.step(actions)
        return self._scale(obs), rew, term, trunc, infos

    def state(self) -> np.ndarray:
        return np.asarray(self.env.state(), np.float32) / self._state_scale


def scale_inputs(env: Any, mode: str) -> Any:
    """``env`` itself (``mode="none"``) or wrapped in :class:`ScaledInputs` (``"bounds"``)."""
    if mode not in INPUT_SCALES:
        raise ValueError(f"input_scale must be one of {', '.join(INPUT_SCALES)}, got {mode!r}")
    return env if mode == "none" else ScaledInputs(env)
