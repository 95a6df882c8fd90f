"""Level-based foraging (``lbforaging`` 2.x, gymnasium tuple API) as a PettingZoo ``ParallelEnv``.

Agents (levels 1-2) move on a grid and load food whose level is at most the summed level of the
adjacent loading agents; rewards are normalised so that a whole episode pays at most 1 in total.
Episode ends: all food loaded -> *termination* (success); 50 steps -> *truncation*. The upstream env
reports both as ``done``; we split them so that learners bootstrap through the time limit.

Global state: the concatenation of the agents' observations [spec §3.7, our choice]. Action
availability comes from the env's own valid-move table (``NONE`` is always available).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from simulators.marl.base import MarlTask, box_f32

DEFAULT_LBF = "Foraging-8x8-2p-2f-coop-v3"


class LBFParallelEnv(MarlTask):
    """``lbforaging`` task ``env_id`` (any registered ``Foraging-...-v3`` id) with the MarlTask API."""

    metadata = {"name": "lbf_v3", "render_modes": [], "is_parallelizable": True}

    def __init__(self, env_id: str = DEFAULT_LBF, seed: int | None = None, **kwargs: object) -> None:
        import lbforaging  # noqa: F401 - registers the Foraging ids

        if not env_id.startswith("Foraging"):
            raise ValueError(f"env_id must be a registered lbforaging id 'Foraging-...-v3', got {env_id!r}")
        try:
            self._env = gym.make(env_id, disable_env_checker=True, **kwargs).unwrapped
        except gym.error.Error as exc:
            raise ValueError(f"env_id {env_id!r} is not a registered lbforaging task ({exc})") from None
        self.env_id = env_id
        n = self._env.n_agents
        obs_spaces = [box_f32(s) for s in self._env.observation_space]
        obs_dim = int(obs_spaces[0].shape[0])
        super().__init__(n, obs_spaces, int(self._env.action_space[0].n), n * obs_dim,
                         int(self._env._max_episode_steps), seed=seed)
        # the state is the agents' observations side by side: its box is theirs side by side
        self.state_space = spaces.Box(np.concatenate([o.low for o in obs_spaces]),
                                      np.concatenate([o.high for o in obs_spaces]), dtype=np.float32)
        self._last_obs: list[np.ndarray] = [np.zeros(obs_dim, np.float32)] * n
        self._terminated = False

    def _reset_inner(self, seed: int | None) -> list[np.ndarray]:
        obs, _ = self._env.reset(seed=seed)
        self._last_obs = [np.asarray(o, np.float32) for o in obs]
        self._terminated = False
        return self._last_obs

    def _step_inner(self, actions: list[int]) -> tuple[list[np.ndarray], list[float], bool, bool]:
        obs, rewards, done, _, _ = self._env.step(actions)
        self._last_obs = [np.asarray(o, np.float32) for o in obs]
        self._terminated = bool(self._env.field.sum() == 0)
        truncated = bool(done) and not self._terminated
        return self._last_obs, [float(r) for r in rewards], self._terminated, truncated

    def _masks(self) -> np.ndarray:
        valid = self._env._valid_actions
        m = np.zeros((len(self.possible_agents), self.n_actions), np.int8)
        if valid is None:
            m[:, 0] = 1
            return m
        for i, p in enumerate(self._env.players):
            for a in valid[p]:
                m[i, a.value] = 1
        return m

    def state(self) -> np.ndarray:
        return np.concatenate(self._last_obs).astype(np.float32)

    def success(self) -> float | None:
        """1.0 if every food item was loaded before the time limit."""
        return float(self._terminated)
