"""Common base of the multi-agent wrappers: the PettingZoo ``ParallelEnv`` contract plus what
value-decomposition learners need (spec ``sparse.md`` §3.7).

Every task exposes:

- ``reset(seed, options) -> (obs, infos)`` and ``step(actions) -> (obs, rewards, terms, truncs, infos)``
  with one entry per live agent; ``observation_space(agent)`` / ``action_space(agent)`` return the same
  cached object on every call (PettingZoo requirement for seeding);
- ``infos[agent]["action_mask"]``: an ``int8`` vector of length ``|A|``, 1 for available actions;
- ``state()``: the global state for a centralised mixer (``state_space`` describes it);
- ``success()``: ``1.0``/``0.0`` for tasks with a success notion (evaluated at episode end), else ``None``;
- ``env_info()``: the sizes a learner needs (``n_agents``, ``n_actions``, ``obs_dim``, ``state_dim``,
  ``episode_limit``).

Rewards are the task's per-agent rewards; the team reward is their sum [spec §3.7, our choice], left to
the learner. A time-limit end is a *truncation* (bootstrap through it), a task end a *termination*.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv


class MarlTask(ParallelEnv):
    """Shared plumbing; subclasses implement ``_reset_inner``, ``_step_inner``, ``state``, ``_masks``."""

    metadata: dict[str, Any] = {"name": "marl_task", "render_modes": [], "is_parallelizable": True}

    def __init__(self, n_agents: int, obs_spaces: list[spaces.Box], n_actions: int, state_dim: int,
                 episode_limit: int, seed: int | None = None, agent_prefix: str = "agent") -> None:
        self.possible_agents = [f"{agent_prefix}_{i}" for i in range(n_agents)]
        self.agents: list[str] = []
        self._obs_spaces = dict(zip(self.possible_agents, obs_spaces))
        self._act_spaces = {a: spaces.Discrete(n_actions) for a in self.possible_agents}
        self.state_space = spaces.Box(-np.inf, np.inf, shape=(state_dim,), dtype=np.float32)
        self.n_actions = int(n_actions)
        self.episode_limit = int(episode_limit)
        self._default_seed = seed
        self._needs_reset = True

    # -- PettingZoo API ----------------------------------------------------------------------------
    def observation_space(self, agent: str) -> spaces.Box:
        return self._obs_spaces[agent]

    def action_space(self, agent: str) -> spaces.Discrete:
        return self._act_spaces[agent]

    @property
    def num_agents(self) -> int:
        return len(self.agents)

    @property
    def max_num_agents(self) -> int:
        return len(self.possible_agents)

    def reset(self, seed: int | None = None, options: dict | None = None
              ) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
        if seed is None and self._default_seed is not None:
            seed, self._default_seed = self._default_seed, None  # the factory's seed, used once
        obs = self._reset_inner(seed)
        self.agents = self.possible_agents[:]
        self._needs_reset = False
        return self._obs_dict(obs), self._infos()

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        if self._needs_reset:
            raise RuntimeError("step() called before reset() or after the episode ended; call reset()")
        missing = [a for a in self.agents if a not in actions]
        if missing:
            raise ValueError(f"actions is missing agents {missing}; every live agent must act")
        acts = [int(actions[a]) for a in self.possible_agents]
        for a, u in zip(self.possible_agents, acts):
            if not 0 <= u < self.n_actions:
                raise ValueError(f"action of {a} must be in [0, {self.n_actions}), got {u}")
        obs, rewards, terminated, truncated = self._step_inner(acts)
        truncated = truncated and not terminated
        agents = self.agents
        obs_d = self._obs_dict(obs)
        rew_d = {a: float(r) for a, r in zip(agents, rewards)}
        term_d = dict.fromkeys(agents, bool(terminated))
        trunc_d = dict.fromkeys(agents, bool(truncated))
        infos = self._infos()
        if terminated or truncated:
            self.agents = []
            self._needs_reset = True
        return obs_d, rew_d, term_d, trunc_d, infos

    def render(self) -> None:  # pragma: no cover - headless library
        return None

    def close(self) -> None:
        return None

    # -- extras for centralised training -----------------------------------------------------------
    def state(self) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def success(self) -> float | None:
        """Task success of the current (finished) episode, or ``None`` when the task has none."""
        return None

    def action_masks(self) -> np.ndarray:
        """``(n_agents, n_actions)`` int8 availability matrix for the current step."""
        return self._masks()

    def env_info(self) -> dict[str, int | bool]:
        return {
            "n_agents": len(self.possible_agents),
            "n_actions": self.n_actions,
            "obs_dim": int(self._obs_spaces[self.possible_agents[0]].shape[0]),
            "state_dim": int(self.state_space.shape[0]),
            "episode_limit": self.episode_limit,
            "has_success": self.success.__func__ is not MarlTask.success,  # type: ignore[attr-defined]
        }

    # -- helpers -----------------------------------------------------------------------------------
    def _obs_dict(self, obs: list[np.ndarray]) -> dict[str, np.ndarray]:
        return {a: np.asarray(o, dtype=np.float32) for a, o in zip(self.possible_agents, obs)}

    def _infos(self) -> dict[str, dict]:
        masks = self._masks()
        return {a: {"action_mask": masks[i]} for i, a in enumerate(self.possible_agents)}

    def _reset_inner(self, seed: int | None) -> list[np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _step_inner(self, actions: list[int]) -> tuple[list[np.ndarray], list[float], bool, bool]:
        raise NotImplementedError  # pragma: no cover - abstract

    def _masks(self) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


def box_f32(space: spaces.Box) -> spaces.Box:
    """The same box as float32 (observations are returned as float32)."""
    return spaces.Box(np.asarray(space.low, np.float32), np.asarray(space.high, np.float32),
                      shape=space.shape, dtype=np.float32)
