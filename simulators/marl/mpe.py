"""MPE ``simple_spread`` (``mpe2``) as a PettingZoo ``ParallelEnv`` with action masks.

N agents (default 3) must cover N landmarks while avoiding collisions; discrete actions
(no-op, left, right, down, up), 25 cycles, every action always available. We drive mpe2's *raw* AEC
env directly (one ``step`` per agent, the world advances after the last one), which is what
``aec_to_parallel`` does, without its wrapper layers. Rewards: mpe2's per-agent mix of the global
coverage reward and the local collision penalty (``local_ratio``); returns are negative, so
learners report the normalised ratio of spec eq. (39). No success notion. Global state: mpe2's
``state()`` (the concatenated agent observations).
"""

from __future__ import annotations

import numpy as np

from simulators.marl.base import MarlTask, box_f32


class SpreadParallelEnv(MarlTask):
    """``simple_spread_v3`` with ``N`` agents and ``max_cycles`` steps per episode."""

    metadata = {"name": "simple_spread_v3", "render_modes": [], "is_parallelizable": True}

    def __init__(self, N: int = 3, max_cycles: int = 25, local_ratio: float = 0.5,  # noqa: N803 - mpe2 name
                 seed: int | None = None) -> None:
        from mpe2.simple_spread_v3 import raw_env

        if not isinstance(N, int) or N < 1:
            raise ValueError(f"N must be a positive integer, got {N!r}")
        if not isinstance(max_cycles, int) or max_cycles < 1:
            raise ValueError(f"max_cycles must be a positive integer, got {max_cycles!r}")
        if not 0.0 <= local_ratio <= 1.0:
            raise ValueError(f"local_ratio must be in [0, 1], got {local_ratio!r}")
        self._env = raw_env(N=N, max_cycles=max_cycles, local_ratio=local_ratio, continuous_actions=False)
        self._names = list(self._env.possible_agents)
        obs_spaces = [box_f32(self._env.observation_space(a)) for a in self._names]
        n_actions = int(self._env.action_space(self._names[0]).n)
        super().__init__(N, obs_spaces, n_actions, int(self._env.state_space.shape[0]), max_cycles, seed=seed)
        self._mask = np.ones((N, n_actions), np.int8)

    def _reset_inner(self, seed: int | None) -> list[np.ndarray]:
        self._env.reset(seed=seed)
        return [self._env.observe(a) for a in self._names]

    def _step_inner(self, actions: list[int]) -> tuple[list[np.ndarray], list[float], bool, bool]:
        env = self._env
        for a in actions:  # agent_selection cycles through the agents in order
            env.step(a)
        rewards = [float(env.rewards[a]) for a in self._names]
        terminated = any(env.terminations[a] for a in self._names)
        truncated = any(env.truncations[a] for a in self._names)
        return [env.observe(a) for a in self._names], rewards, terminated, truncated

    def _masks(self) -> np.ndarray:
        return self._mask.copy()

    def state(self) -> np.ndarray:
        return np.asarray(self._env.state(), np.float32)
