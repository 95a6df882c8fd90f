"""Episode collection and greedy evaluation on a :class:`simulators.marl.MarlTask`.

Acting is decentralised: each agent's utilities come from the shared recurrent agent network on its
own observation history; epsilon-greedy picks, per agent and independently, a uniformly random
*available* action with probability epsilon (PyMARL's ``EpsilonGreedyActionSelector``), else the
greedy available action. The team reward is the sum of the agents' rewards (spec §3.7).
Every episode is reset with its own seed drawn from a per-run stream, so a resumed run replays the
same episodes as an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from deeprl.common.episode_replay import Field
from deeprl.mast.learner import QLearner


def episode_fields(info: Mapping[str, Any]) -> dict[str, Field]:
    """Replay fields of one episode for a task with ``info = env.env_info()``."""
    n, a = int(info["n_agents"]), int(info["n_actions"])
    return {
        "obs": Field((n, int(info["obs_dim"])), np.float32, extra_step=True),
        "state": Field((int(info["state_dim"]),), np.float32, extra_step=True),
        "avail": Field((n, a), np.int8, extra_step=True),
        "actions": Field((n,), np.int64),
        "reward": Field((), np.float32),
        "terminated": Field((), np.float32),
    }


def episode_seed(run_seed: int, stream: int, index: int) -> int:
    """Seed of episode ``index`` of stream ``stream`` (0: training, 1: evaluation, 2: random baseline)."""
    return int(np.random.SeedSequence([run_seed, stream, index]).generate_state(1)[0])


def linear_epsilon(t_env: int, start: float, end: float, anneal_steps: int) -> float:
    """epsilon decays linearly from ``start`` to ``end`` over ``anneal_steps`` environment steps."""
    frac = min(1.0, t_env / max(1, anneal_steps))
    return start + frac * (end - start)


@dataclass
class EpisodeStats:
    ret: float
    length: int
    success: float | None


def select_actions(q: np.ndarray, avail: np.ndarray, epsilon: float, rng: np.random.Generator) -> np.ndarray:
    """Epsilon-greedy over available actions, per agent. ``q``, ``avail``: (n, |A|)."""
    greedy = np.where(avail > 0, q, -np.inf).argmax(-1)
    if epsilon <= 0.0:
        return greedy
    explore = rng.random(q.shape[0]) < epsilon
    rand = (rng.random(q.shape) * (avail > 0)).argmax(-1)  # uniform among available actions
    return np.where(explore, rand, greedy)


def run_episode(env: Any, learner: QLearner | None, seed: int, rng: np.random.Generator,
                epsilon: float | Any, t_env: int = 0, record: bool = True
                ) -> tuple[dict[str, np.ndarray] | None, EpisodeStats]:
    """Play one episode. ``epsilon`` is a float or a callable ``t_env -> epsilon``; ``learner=None``
    plays uniformly random available actions. Returns the episode arrays (if ``record``) and stats."""
    agents = env.possible_agents
    obs_d, infos = env.reset(seed=seed)
    obs = np.stack([obs_d[a] for a in agents])
    avail = np.stack([infos[a]["action_mask"] for a in agents])
    n = len(agents)
    buf: dict[str, list[np.ndarray]] = {k: [] for k in ("obs", "state", "avail", "actions", "reward",
                                                           "terminated")}
    h = learner.init_hidden() if learner is not None else None
    last = np.full(n, -1, np.int64)
    ret, steps, terminated = 0.0, 0, False
    while True:
        if record:
            buf["obs"].append(obs)
            buf["state"].append(env.state())
            buf["avail"].append(avail)
        eps = epsilon(t_env + steps) if callable(epsilon) else float(epsilon)
        if learner is None:
            acts = select_actions(np.zeros(avail.shape), avail, 1.0, rng)
        else:
            q, h = learner.act_utilities(obs, last, h)
            acts = select_actions(q, avail, eps, rng)
        obs_d, rew_d, term_d, trunc_d, infos = env.step({a: int(u) for a, u in zip(agents, acts)})
        r = float(sum(rew_d.values()))
        terminated = any(term_d.values())
        done = terminated or any(trunc_d.values())
        obs = np.stack([obs_d[a] for a in agents])
        avail = np.stack([infos[a]["action_mask"] for a in agents])
        if record:
            buf["actions"].append(acts.astype(np.int64))
            buf["reward"].append(np.float32(r))
            buf["terminated"].append(np.float32(terminated))
        ret += r
        steps += 1
        last = acts.astype(np.int64)
        if done:
            break
    episode = None
    if record:
        buf["obs"].append(obs)
        buf["state"].append(env.state())
        buf["avail"].append(avail)
        episode = {k: np.asarray(v) for k, v in buf.items()}
    return episode, EpisodeStats(ret, steps, env.success())


def evaluate(env: Any, learner: QLearner | None, run_seed: int, episodes: int, stream: int = 1,
             rng: np.random.Generator | None = None) -> dict[str, float]:
    """Greedy (or, with ``learner=None``, random) evaluation on seeds disjoint from training."""
    rng = np.random.default_rng(episode_seed(run_seed, stream, 10**9)) if rng is None else rng
    rets, succ, lens = [], [], []
    for i in range(episodes):
        _, st = run_episode(env, learner, episode_seed(run_seed, stream, i), rng, 0.0, record=False)
        rets.append(st.ret)
        lens.append(st.length)
        if st.success is not None:
            succ.append(st.success)
    out = {"return": float(np.mean(rets)), "return_std": float(np.std(rets)), "length": float(np.mean(lens))}
    if succ:
        out["success_rate"] = float(np.mean(succ))
    return out
