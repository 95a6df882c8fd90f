"""The one Agent interface of the provable side.

An agent is constructed from the MDP's KNOWN parts only: the feature map ``phi`` (S, A, d), the horizon
H, and (for algorithms that assume it, spec §9 #3) the reward table ``reward`` (H, S, A); plus a seed
and its hyper-parameters. It never sees P.

Protocol, one episode at a time (spec §1: the learner fixes a deterministic greedy policy before the
episode, defined for every (h, s)):

    pi = agent.policy()                 # (H, S) int64, fixed for the whole episode
    a = agent.act(h, s)                 # == pi[h, s]
    agent.observe(states, actions, rewards)   # (H+1,), (H,), (H,) of the finished episode

Ties in the greedy argmax are broken by a fixed random action priority drawn once from the agent's seed
(spec §1 and §9 #12), so the evaluated policy is exactly the one played.

To plug in your own algorithm: subclass :class:`Agent`, implement :meth:`policy` and :meth:`observe`,
and add it to ``provable.agents.ALGORITHMS``.
"""

from __future__ import annotations

import inspect
import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["Agent", "check_features", "check_risk_hyper", "build_agent"]


def check_features(phi: Any, H: Any, reward: Any = None) -> tuple[np.ndarray, int, np.ndarray | None]:
    """Validate the known parts of the MDP; ValueError naming the bad parameter."""
    phi = np.asarray(phi, dtype=np.float64)
    if phi.ndim != 3 or min(phi.shape) < 1:
        raise ValueError(f"phi must be a non-empty (S, A, d) array, got shape {phi.shape}")
    if not np.all(np.isfinite(phi)):
        raise ValueError("phi must be finite")
    if isinstance(H, bool) or int(H) != H or H < 1:
        raise ValueError(f"H must be a positive integer, got {H!r}")
    H = int(H)
    if reward is not None:
        reward = np.asarray(reward, dtype=np.float64)
        if reward.shape != (H, phi.shape[0], phi.shape[1]):
            raise ValueError(f"reward must have shape (H, S, A) = {(H, *phi.shape[:2])}, got {reward.shape}")
        if not np.all(np.isfinite(reward)):
            raise ValueError("reward must be finite")
    return np.ascontiguousarray(phi), H, reward


def check_risk_hyper(alpha: Any, K: Any, p: Any, bonus_scale: Any) -> tuple[float, int, float, float]:
    """Validate the hyper-parameters the iterated-CVaR agents share (risk level alpha in (0, 1], planned
    episodes K, failure probability p of the confidence radius, bonus multiplier); ValueError naming
    the bad one. Returns them as (float, int, float, float)."""
    alpha = float(alpha)
    if not (0.0 < alpha <= 1.0):
        raise ValueError(f"alpha must lie in (0, 1], got {alpha!r}")
    if isinstance(K, bool) or int(K) != K or K < 1:
        raise ValueError(f"K must be a positive integer, got {K!r}")
    if not (0.0 < float(p) < 1.0):
        raise ValueError(f"p must lie in (0, 1), got {p!r}")
    if not (float(bonus_scale) >= 0.0 and math.isfinite(float(bonus_scale))):
        raise ValueError(f"bonus_scale must be a finite number >= 0, got {bonus_scale!r}")
    return alpha, int(K), float(p), float(bonus_scale)


class Agent(ABC):
    """Base class: known parts, seeded tie-break priority, the act/observe/policy protocol."""

    #: registry name, set by subclasses
    name: str = "agent"
    #: True if the algorithm assumes the reward function is known (then ``reward`` is required)
    needs_reward: bool = False

    def __init__(self, phi: np.ndarray, H: int, *, reward: np.ndarray | None = None, seed: int = 0) -> None:
        self.phi, self.H, self.reward = check_features(phi, H, reward)
        if self.needs_reward and self.reward is None:
            raise ValueError(f"{self.name} assumes a known reward: pass reward (H, S, A)")
        self.S, self.A, self.d = self.phi.shape
        if isinstance(seed, bool) or int(seed) != seed or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.seed = int(seed)
        self.rng = np.random.default_rng(self.seed)
        #: action order, highest priority first: ties go to the action listed earliest (spec §1)
        self.priority = self.rng.permutation(self.A)
        self.episode = 0  # number of observed episodes
        self.n_switches = 0  # policy recomputations (rare switching) or episodes, algorithm-specific
        self._pi: np.ndarray | None = None

    # ---- protocol ----------------------------------------------------------------------------
    @abstractmethod
    def policy(self) -> np.ndarray:
        """The deterministic greedy policy (H, S) int64 for the coming episode."""

    def act(self, h: int, s: int) -> int:
        """Action at step h (0-based) in state s under the policy fixed for this episode."""
        if self._pi is None:
            self.policy()
        assert self._pi is not None
        return int(self._pi[h, s])

    @abstractmethod
    def observe(self, states: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        """Feed one finished episode: states (H+1,), actions (H,), rewards (H,)."""

    # ---- helpers -------------------------------------------------------------------------------
    def plan_known_reward(self, next_value: Callable[[int, np.ndarray], np.ndarray]) -> None:
        """Optimistic backward pass with the known reward, shared by the model-based planners:

            Q_h(s,a) = min{ r_h(s,a) + next_value(h, V_{h+1})(s,a),  H − h },   V_h = max_a Q_h

        (spec eq. (26) for ICVaR-L, eq. (30) for ICVaR-G; h is 0-based, so H − h is the spec's H − h + 1).
        Sets ``Q`` (H,S,A), ``V`` (H+1,S) and the greedy policy, and counts a policy switch.
        """
        assert self.reward is not None
        V = np.zeros((self.H + 1, self.S))
        Q = np.empty((self.H, self.S, self.A))
        for h in range(self.H - 1, -1, -1):
            Q[h] = np.minimum(self.reward[h] + next_value(h, V[h + 1]), float(self.H - h))
            V[h] = Q[h].max(axis=1)
        self.Q, self.V = Q, V
        self._pi = self.greedy(Q)
        self.n_switches += 1

    def greedy(self, Q: np.ndarray) -> np.ndarray:
        """argmax over the last axis with the fixed random priority as tie-break (spec §9 #12)."""
        Qp = Q[..., self.priority]
        return self.priority[np.argmax(Qp, axis=-1)].astype(np.int64)

    def _check_episode(self, states: Any, actions: Any, rewards: Any) -> tuple[np.ndarray, ...]:
        s = np.asarray(states, dtype=np.int64)
        a = np.asarray(actions, dtype=np.int64)
        r = np.asarray(rewards, dtype=np.float64)
        if s.shape != (self.H + 1,) or a.shape != (self.H,) or r.shape != (self.H,):
            raise ValueError(f"observe expects states ({self.H + 1},), actions ({self.H},), rewards "
                             f"({self.H},); got {s.shape}, {a.shape}, {r.shape}")
        if s.min() < 0 or s.max() >= self.S or a.min() < 0 or a.max() >= self.A:
            raise ValueError("observe got a state or action index out of range")
        return s, a, r


def build_agent(cls: type[Agent], mdp: Any, seed: int, **hyper: Any) -> Agent:
    """Construct ``cls`` from an MDP's known parts, passing only the hyper-parameters it accepts.

    ``reward`` is passed if the class needs it (``needs_reward``) or accepts it; ``alpha``, ``K``,
    ``bonus_scale``, ``preset`` ... are passed only if the constructor names them, so one harness
    serves risk-neutral and iterated-CVaR agents alike. A class with a ``from_mdp(mdp, seed, **kw)``
    constructor (ICVaR-G: its model class is built around the instance) is built through it unless
    ``models`` is given.
    """
    params = inspect.signature(cls.__init__).parameters
    accepts_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    kw: dict[str, Any] = {}
    for key, val in hyper.items():
        if val is not None and (key in params or accepts_kwargs):
            kw[key] = val
    from_mdp = getattr(cls, "from_mdp", None)
    if from_mdp is not None and kw.get("models") is None:
        # agents whose prior knowledge is built from the model (ICVaR-G's finite class, spec §5.4)
        kw.pop("models", None)
        return from_mdp(mdp, seed, **kw)
    if cls.needs_reward or "reward" in params:
        kw["reward"] = mdp.R
    return cls(mdp.phi, mdp.H, seed=seed, **kw)


class UniformRandomAgent(Agent):
    """Baseline of spec §6: a fresh uniformly random deterministic policy every episode.

    Its expected per-episode regret is that of the uniform stochastic policy (linear regret on a fixed
    instance). On the K-tuned hard instance it still grows like sqrt(K) (every policy's gap there is
    O(d H^{3/2} / sqrt(K)) per episode), which is why growth checks there must be read against it.
    """

    name = "uniform-random"

    def policy(self) -> np.ndarray:
        if self._pi is None:
            self._pi = self.rng.integers(0, self.A, size=(self.H, self.S)).astype(np.int64)
        return self._pi

    def observe(self, states: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        self._check_episode(states, actions, rewards)
        self.episode += 1
        self.n_switches += 1
        self._pi = None
