"""SMAX (``jaxmarl`` 0.2's JAX re-implementation of SMAC) as a PettingZoo ``ParallelEnv``.

Optional extra ``[smax]`` (``pip install -e .[smax]``): it pulls JAX and pins gymnasium 1.3, so it is
kept out of ``[all]``. ``jaxmarl`` is imported only when a SMAX task is built, so ``import simulators``
never imports JAX.

Task ``smax-<map>`` is jaxmarl's ``HeuristicEnemySMAX`` on the SMAC-like scenario ``<map>`` (spec
``sparse.md`` §3.7 names ``3m``, ``2s3z``, ``3s5z``; every map of jaxmarl's ``map_name_to_scenario``
is accepted): our agents are the allied units ``ally_0..ally_{n-1}``, the enemies follow jaxmarl's
built-in heuristic (shoot the closest unit in range, else walk towards the enemy). The
simulation is pure JAX; reset and step (enemy policy, 8 world sub-steps, observations, world state,
available actions) are each one jit-compiled call, compiled once per process and configuration,
and the results cross to NumPy in a single ``device_get`` (the "NumPy bridge"). The JAX state never
leaves the device.

Interface (as every :class:`~simulators.marl.base.MarlTask`):

- actions: ``0..3`` move (diagonal directions), ``4`` STOP, ``5 + j`` attack enemy ``j``
  (``|A| = 5 + n_enemies``). ``infos[agent]["action_mask"]`` is jaxmarl's ``get_avail_actions``: moves
  for a live unit, STOP always, attack ``j`` iff enemy ``j`` is alive and in weapon range. Unavailable
  actions are accepted and do what SMAX does with them (a dead unit does not move, an attack out of
  range or on a dead unit does nothing), as the PettingZoo API tests send unmasked random actions.
- a killed unit stays in ``agents`` until the episode ends, observing zeros with only STOP
  available (SMAC's convention, so the team size stays fixed for value decomposition).
- observations: jaxmarl's ``unit_list`` features (own health, position, cooldown, unit type; the
  other units' relative features, zero when out of sight), in ``[-1, 1]``.
- ``state()``: jaxmarl's ``get_world_state`` (per unit: health fraction, position, weapon cooldown,
  unit-type one-hot; then every unit's team and type) with positions divided by the map size so
  that every feature is O(1) [our choice; jaxmarl gives positions in map units, 0..32].
- reward: SMAX's team reward (fraction of the enemy team's total health removed this step, plus
  ``won_battle_bonus`` = 1 on a win), split equally between the agents so that the team reward,
  the sum of the agents' rewards (spec §3.7), is exactly SMAX's. A whole episode pays at most 2.
- episode end: the battle is over (one team fully dead) -> *termination*; ``max_steps`` (default
  100, jaxmarl's) reached first -> *truncation*. ``success()`` is the battle's win (every enemy dead,
  at least one ally alive; both teams dying in the same step is a draw, not a win), i.e. the
  win rate of SMAC/SMAX papers. The final step's infos also carry SMAC's ``battle_won``,
  ``dead_allies`` and ``dead_enemies``.
- seeding: ``reset(seed)`` maps the seed through ``numpy.random.SeedSequence`` to a threefry key
  (all non-negative integers map to distinct keys; ``jax.random.PRNGKey`` would truncate seeds to 32
  bits); every step splits that key, so a seed fixes the whole trajectory, enemy moves included.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

from simulators.marl.base import MarlTask

INSTALL_HINT = "pip install -e .[smax]"
SMAX_MAPS = ("3m", "2s3z", "3s5z")  # the spec's maps; any jaxmarl scenario name is accepted
N_MOVE_ACTIONS = 5  # four diagonal moves and STOP (jaxmarl's num_movement_actions)
STOP_ACTION = 4


def import_jaxmarl() -> tuple[Any, Any, Any]:
    """``(jax, HeuristicEnemySMAX, MAP_NAME_TO_SCENARIO)``, or a ``ValueError`` naming the install command."""
    try:
        # jaxmarl prints two lines about its optional git-submodule environments on first import (its
        # mabrax module resets sys.stdout to sys.__stdout__, so contextlib.redirect_stdout cannot hide them)
        import jax
        import jaxmarl  # noqa: F401 - the top-level package first, so that a missing jaxmarl fails here
        from jaxmarl.environments.smax import HeuristicEnemySMAX
        from jaxmarl.environments.smax.smax_env import MAP_NAME_TO_SCENARIO
    except ImportError as exc:
        missing = getattr(exc, "name", None) in (None, "jax", "jaxlib", "jaxmarl")
        why = "which is not installed" if missing else f"which failed to import ({exc})"
        raise ValueError(f"SMAX tasks need jaxmarl==0.2.0 (the optional extra [smax]), {why}; "
                         f"install it with: {INSTALL_HINT}") from None
    return jax, HeuristicEnemySMAX, MAP_NAME_TO_SCENARIO


@dataclass(frozen=True)
class _Sim:
    """One compiled SMAX configuration: the jaxmarl env and its jitted reset/step."""

    env: Any
    reset: Any  # key -> (key, state, outputs)
    step: Any  # (key, state, actions int32[n]) -> (key, state, outputs)
    n_agents: int
    n_enemies: int
    n_actions: int
    obs_dim: int
    state_dim: int
    max_steps: int


@functools.cache
def _compile(map_name: str, kwargs: tuple[tuple[str, Any], ...]) -> _Sim:
    """Build ``HeuristicEnemySMAX`` on ``map_name`` and jit its reset/step (cached per process)."""
    jax, heuristic_smax, scenarios = import_jaxmarl()
    import jax.numpy as jnp

    if map_name not in scenarios:
        raise ValueError(f"SMAX map {map_name!r} is unknown; use one of {', '.join(sorted(scenarios))}")
    kw = dict(kwargs)
    if kw.get("action_type", "discrete") != "discrete":
        raise ValueError(f"action_type must be 'discrete' (value-based learners), got {kw['action_type']!r}")
    try:
        env = heuristic_smax(scenario=scenarios[map_name], **kw)
    except TypeError as exc:
        raise ValueError(f"bad SMAX option ({exc}); options are HeuristicEnemySMAX's keyword arguments "
                         f"(e.g. max_steps, enemy_shoots, attack_mode, observation_type)") from None
    agents = list(env.agents)
    n, n_enemies, n_units = env.num_allies, env.num_enemies, env.num_allies + env.num_enemies
    n_feat = len(env.own_features)
    map_size = jnp.array([env.map_width, env.map_height], jnp.float32)

    def outputs(obs: dict, state: Any) -> tuple:
        inner = state.state
        avail = env.get_avail_actions(state)
        units = obs["world_state"][: n_units * n_feat].reshape(n_units, n_feat)
        units = units.at[:, 1:3].divide(map_size)
        world = jnp.concatenate([units.reshape(-1), obs["world_state"][n_units * n_feat:]])
        allies_alive = inner.unit_alive[:n].any()
        enemies_alive = inner.unit_alive[n:].any()
        flags = jnp.array([~allies_alive | ~enemies_alive,  # battle over (termination)
                           ~enemies_alive & allies_alive,  # battle won (SMAX's won_battle rule)
                           inner.step >= env.max_steps])  # time limit
        dead = jnp.array([n - inner.unit_alive[:n].sum(), n_enemies - inner.unit_alive[n:].sum()])
        return (jnp.stack([obs[a] for a in agents]).astype(jnp.float32), world.astype(jnp.float32),
                jnp.stack([avail[a] for a in agents]).astype(jnp.int8), flags, dead)

    def reset(key: Any) -> tuple:
        key, sub = jax.random.split(key)
        obs, state = env.reset(sub)
        return key, state, (*outputs(obs, state), jnp.float32(0.0))

    def step(key: Any, state: Any, actions: Any) -> tuple:
        key, sub = jax.random.split(key)
        obs, state, rewards, _, _ = env.step_env(sub, state, {a: actions[i] for i, a in enumerate(agents)})
        return key, state, (*outputs(obs, state), rewards[agents[0]].astype(jnp.float32))

    return _Sim(env, jax.jit(reset), jax.jit(step), n, n_enemies, int(env.num_ally_actions), int(env.obs_size),
                int(env.state_size), int(env.max_steps))


def seed_to_key(seed: int) -> np.ndarray:
    """A raw threefry ``uint32[2]`` key from any non-negative integer seed (via ``SeedSequence``)."""
    return np.random.SeedSequence(seed).generate_state(2, np.uint32)


class SmaxParallelEnv(MarlTask):
    """jaxmarl ``HeuristicEnemySMAX`` on ``map_name`` with the MarlTask API (see the module docstring).

    ``**smax_kwargs`` go to ``HeuristicEnemySMAX`` (e.g. ``max_steps``, ``enemy_shoots``,
    ``attack_mode``, ``observation_type``); the action type must stay discrete.
    """

    metadata = {"name": "smax_v0", "render_modes": [], "is_parallelizable": True}

    def __init__(self, map_name: str = "3m", seed: int | None = None, **smax_kwargs: Any) -> None:
        try:
            key = tuple(sorted(smax_kwargs.items()))
            hash(key)
        except TypeError:
            raise ValueError(f"SMAX options must be hashable scalars, got {smax_kwargs!r}") from None
        self._jax = import_jaxmarl()[0]  # first: the clear error when jaxmarl is missing
        self._sim = sim = _compile(map_name, key)
        self.map_name = map_name
        obs_space = spaces.Box(-1.0, 1.0, shape=(sim.obs_dim,), dtype=np.float32)
        super().__init__(sim.n_agents, [obs_space] * sim.n_agents, sim.n_actions, sim.state_dim,
                         sim.max_steps, seed=seed, agent_prefix="ally")
        self._key: Any = None
        self._jstate: Any = None
        self._state = np.zeros(sim.state_dim, np.float32)
        self._avail = np.zeros((sim.n_agents, sim.n_actions), np.int8)
        self._avail[:, STOP_ACTION] = 1
        self._flags = np.zeros(3, bool)
        self._dead = np.zeros(2, np.int64)

    def _unpack(self, out: tuple) -> tuple[list[np.ndarray], float]:
        obs, world, avail, flags, dead, reward = self._jax.device_get(out)
        self._state, self._avail, self._flags, self._dead = world, avail, flags, dead
        return list(obs), float(reward)

    def _reset_inner(self, seed: int | None) -> list[np.ndarray]:
        if seed is None:
            seed = int(np.random.SeedSequence().entropy)
        elif not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")
        self._key, self._jstate, out = self._sim.reset(seed_to_key(int(seed)))
        return self._unpack(out)[0]

    def _step_inner(self, actions: list[int]) -> tuple[list[np.ndarray], list[float], bool, bool]:
        self._key, self._jstate, out = self._sim.step(self._key, self._jstate, np.asarray(actions, np.int32))
        obs, team_reward = self._unpack(out)
        over, _, timeout = (bool(f) for f in self._flags)
        n = self._sim.n_agents
        return obs, [team_reward / n] * n, over, timeout and not over

    def _masks(self) -> np.ndarray:
        return self._avail.copy()

    def _infos(self) -> dict[str, dict]:
        infos = super()._infos()
        over, won, timeout = (bool(f) for f in self._flags)
        if over or timeout:  # SMAC's end-of-episode info
            for info in infos.values():
                info.update(battle_won=won, dead_allies=int(self._dead[0]), dead_enemies=int(self._dead[1]))
        return infos

    def state(self) -> np.ndarray:
        return self._state.copy()

    def success(self) -> float | None:
        """1.0 if the battle was won (every enemy dead, an ally alive), else 0.0."""
        return float(self._flags[1])
