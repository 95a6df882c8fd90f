"""Multi-robot warehouse (``rware`` 2.x, gymnasium tuple API) as a PettingZoo ``ParallelEnv``.

Robots fetch requested shelves to the goal cells; sparse reward 1 per delivery (individual reward
type), 500-step episodes that only end by the time limit (a *truncation*). Every action is always
available (rware has no availability rule). Global state: concatenated observations [our choice].
Hard for value decomposition at small budgets (EPyMARL benchmark): an optional task.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from simulators.marl.base import MarlTask, box_f32

DEFAULT_RWARE = "rware-tiny-2ag-v2"


class RwareParallelEnv(MarlTask):
    """``rware`` task ``env_id`` (flattened-vector observations) with the MarlTask API."""

    metadata = {"name": "rware_v2", "render_modes": [], "is_parallelizable": True}

    def __init__(self, env_id: str = DEFAULT_RWARE, seed: int | None = None, **kwargs: object) -> None:
        import rware  # noqa: F401 - registers the rware ids

        if not env_id.startswith("rware-"):
            raise ValueError(f"env_id must be a registered vector-observation rware id 'rware-...-v2', "
                             f"got {env_id!r}")
        try:
            self._env = gym.make(env_id, disable_env_checker=True, **kwargs).unwrapped
        except gym.error.Error as exc:
            raise ValueError(f"env_id {env_id!r} is not a registered rware task ({exc})") from None
        self.env_id = env_id
        n = self._env.n_agents
        obs_spaces = [box_f32(s) for s in self._env.observation_space]
        obs_dim = int(obs_spaces[0].shape[0])
        n_actions = int(self._env.action_space[0].n)
        super().__init__(n, obs_spaces, n_actions, n * obs_dim, int(self._env.max_steps), seed=seed)
        self._last_obs: list[np.ndarray] = [np.zeros(obs_dim, np.float32)] * n
        self._mask = np.ones((n, n_actions), np.int8)

    def _reset_inner(self, seed: int | None) -> list[np.ndarray]:
        obs, _ = self._env.reset(seed=seed)
        self._last_obs = [np.asarray(o, np.float32) for o in obs]
        return self._last_obs

    def _step_inner(self, actions: list[int]) -> tuple[list[np.ndarray], list[float], bool, bool]:
        obs, rewards, done, _, _ = self._env.step(actions)
        self._last_obs = [np.asarray(o, np.float32) for o in obs]
        return self._last_obs, [float(r) for r in rewards], False, bool(done)

    def _masks(self) -> np.ndarray:
        return self._mask.copy()

    def state(self) -> np.ndarray:
        return np.concatenate(self._last_obs).astype(np.float32)
