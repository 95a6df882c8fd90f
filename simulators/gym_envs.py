"""Gymnasium wrapper of any :class:`~simulators.linear_mdp.LinearMDP`, registered as
``simulators/LinearMDP-v0``.

Observation: ``Discrete(S)``, the current state. The MDP is inhomogeneous, so the step index h and the
feature block φ(s, ·) (A, d) of the current state are in ``info`` (``info["h"]``, ``info["phi"]``) and
through :meth:`LinearMDPEnv.features`. An episode terminates after H steps. Rewards are R_h(s,a), or
Bernoulli(R_h(s,a)) draws when the instance has ``bernoulli_rewards``.

    env = gymnasium.make("simulators/LinearMDP-v0", instance="hard", seed_instance=3, d=4, H=5, K=2000)
    env = gymnasium.make("simulators/LinearMDP-v0", mdp=my_linear_mdp)
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from .instances import make_instance
from .linear_mdp import LinearMDP

ENV_ID = "simulators/LinearMDP-v0"


class LinearMDPEnv(gym.Env):
    """Episodic linear MDP as a gymnasium ``Env`` (terminates after H steps)."""

    metadata = {"render_modes": ["ansi"]}

    def __init__(
        self,
        mdp: LinearMDP | None = None,
        instance: str = "random",
        seed_instance: int = 0,
        render_mode: str | None = None,
        **params: Any,
    ) -> None:
        if mdp is None:
            mdp = make_instance(instance, seed=seed_instance, **params)
        elif params:
            raise ValueError(
                f"instance parameters {sorted(params)} given together with mdp; give one or the other"
            )
        if not isinstance(mdp, LinearMDP):
            raise ValueError(f"mdp must be a simulators.LinearMDP, got {type(mdp).__name__}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        self.mdp = mdp
        self.render_mode = render_mode
        self.observation_space = spaces.Discrete(mdp.S)
        self.action_space = spaces.Discrete(mdp.A)
        self._P_cum = np.asarray(mdp.P_cum)
        self._init_cum = np.cumsum(np.asarray(mdp.init))
        self._init_cum[-1] = 1.0
        self._h = 0
        self._s = 0

    def features(self, state: int | None = None) -> np.ndarray:
        """φ(s, ·) as an (A, d) array for ``state`` (default: the current state)."""
        s = self._s if state is None else int(state)
        return np.array(self.mdp.phi[s])

    def _info(self) -> dict[str, Any]:
        return {"h": self._h, "phi": self.features()}

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[int, dict[str, Any]]:
        """Draw s_1 ~ ρ₀; h = 0."""
        super().reset(seed=seed)
        self._h = 0
        self._s = int(np.searchsorted(self._init_cum, self.np_random.random(), side="right"))
        return self._s, self._info()

    def step(self, action: int) -> tuple[int, float, bool, bool, dict[str, Any]]:
        """Apply ``action`` at (h, s): reward R_h(s,a) (or a Bernoulli draw), s' ~ P_h(·|s,a)."""
        if self._h >= self.mdp.H:
            raise RuntimeError("episode is over (H steps taken); call reset()")
        if not self.action_space.contains(action):
            raise ValueError(f"action must be an integer in [0, {self.mdp.A}), got {action!r}")
        a = int(action)
        h, s = self._h, self._s
        r = float(self.mdp.R[h, s, a])
        if self.mdp.bernoulli_rewards:
            r = float(self.np_random.random() < r)
        self._s = int(np.searchsorted(self._P_cum[h, s, a], self.np_random.random(), side="right"))
        self._h += 1
        terminated = self._h >= self.mdp.H
        return self._s, r, terminated, False, self._info()

    def render(self) -> str | None:
        """ANSI: the step and state."""
        if self.render_mode == "ansi":
            return f"{self.mdp.name}: h={self._h} s={self._s}"
        return None


#: the scheduling system's ids (RSD4 spec §1.7) -> default keyword arguments of ``SchedulingEnv``
SCHEDULING_ENV_IDS: dict[str, dict[str, object]] = {
    "simulators/Scheduling-v0": {},  # channel observed
    "simulators/SchedulingPO-v0": {"partial": True},  # channel hidden
    "simulators/SchedulingNoisy-v0": {"obs_noise": 0.1},  # channel observed through sensing noise
}


def register() -> None:
    """Register every gymnasium id of the package (idempotent).

    ``simulators/LinearMDP-v0`` and the scheduling ids of :data:`SCHEDULING_ENV_IDS`, each with the
    single env :class:`~simulators.scheduling.env.SchedulingEnv` (``gymnasium.make``) and the lock-step
    vector env :class:`~simulators.scheduling.vector_env.SchedulingVectorEnv` as its vector entry point
    (``gymnasium.make_vec(id, num_envs=M, vectorization_mode="vector_entry_point")``, also the mode
    ``make_vec`` takes when none is given; ``"sync"`` and ``"async"`` still wrap M single envs). Entry
    points are strings, so registering does not import ``simulators.scheduling`` (gymnasium imports it
    on ``make``/``make_vec``).
    """
    if ENV_ID not in gym.registry:
        gym.register(id=ENV_ID, entry_point="simulators.gym_envs:LinearMDPEnv")
    for env_id, kwargs in SCHEDULING_ENV_IDS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point="simulators.scheduling.env:SchedulingEnv",
                         vector_entry_point="simulators.scheduling.vector_env:SchedulingVectorEnv",
                         kwargs=dict(kwargs))
