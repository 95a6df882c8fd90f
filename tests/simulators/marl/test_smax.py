"""SMAX (jaxmarl 0.2, extra ``[smax]``) behind the MarlTask / PettingZoo parallel API.

Skipped where jaxmarl is not installed (CI installs no ``[smax]``); the error a user then gets is tested
in ``test_marl_wrappers.py``, which always runs.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("jaxmarl")

from pettingzoo.test import parallel_api_test, parallel_seed_test  # noqa: E402

from simulators.marl import make_marl_env  # noqa: E402
from simulators.marl.smax import STOP_ACTION  # noqa: E402

EAST = 1  # jaxmarl's discrete move 1 is +x, towards the enemy start (allies spawn at x = 8, enemies at 24)


def play(env, policy, seed: int) -> dict:
    """One episode with ``policy(mask) -> action`` per agent; returns the whole trajectory."""
    obs, infos = env.reset(seed=seed)
    traj = {"obs": [np.stack(list(obs.values()))], "state": [env.state()], "reward": [],
            "mask": [np.stack([infos[a]["action_mask"] for a in env.possible_agents])]}
    while env.agents:
        acts = {a: policy(infos[a]["action_mask"]) for a in env.agents}
        obs, rew, term, trunc, infos = env.step(acts)
        traj["obs"].append(np.stack(list(obs.values())))
        traj["state"].append(env.state())
        traj["mask"].append(np.stack([infos[a]["action_mask"] for a in env.possible_agents]))
        traj["reward"].append(sum(rew.values()))
    traj.update(term=term, trunc=trunc, infos=infos, success=env.success())
    return traj


def random_policy(rng: np.random.Generator):
    return lambda m: int(rng.choice(np.flatnonzero(m)))


def focus_fire(m: np.ndarray) -> int:
    """Attack the lowest-index enemy in range, else walk towards the enemy (STOP when dead)."""
    targets = np.flatnonzero(m[5:])
    return 5 + int(targets[0]) if len(targets) else (EAST if m[EAST] else STOP_ACTION)


def test_parallel_api() -> None:
    parallel_api_test(make_marl_env("smax-3m", seed=0), num_cycles=300)


def test_parallel_seed() -> None:
    parallel_seed_test(lambda: make_marl_env("smax-3m", seed=0), num_cycles=100)


@pytest.mark.parametrize("task, n, n_enemies", [("smax-3m", 3, 3), ("smax-2s3z", 5, 5)])
def test_sizes_spaces_and_masks(task: str, n: int, n_enemies: int) -> None:
    env = make_marl_env(task, seed=1)
    info = env.env_info()
    per_unit, own = 7 + 6, 4 + 6  # jaxmarl unit_list features (6 unit types)
    assert info == {"n_agents": n, "n_actions": 5 + n_enemies, "obs_dim": per_unit * (n - 1 + n_enemies) + own,
                    "state_dim": 12 * (n + n_enemies), "episode_limit": 100, "has_success": True}
    assert env.possible_agents == [f"ally_{i}" for i in range(n)]
    rng = np.random.default_rng(0)
    obs, infos = env.reset()
    sim_env = env._sim.env
    for _ in range(30):
        assert env.state().shape == (info["state_dim"],) and env.state().dtype == np.float32
        inner = env._jstate.state
        pos, alive = np.asarray(inner.unit_positions), np.asarray(inner.unit_alive)
        ranges = np.asarray(sim_env.unit_type_attack_ranges)[np.asarray(inner.unit_types)]
        for i, a in enumerate(env.possible_agents):
            assert env.observation_space(a).contains(obs[a])
            m = infos[a]["action_mask"]
            assert m.shape == (info["n_actions"],) and m.dtype == np.int8 and m[STOP_ACTION] == 1
            # moves iff alive; attack j iff both alive and enemy j within i's weapon range (jaxmarl's rule)
            assert list(m[:4]) == [int(alive[i])] * 4
            dist = np.linalg.norm(pos[n:] - pos[i], axis=1)
            np.testing.assert_array_equal(m[5:], (alive[i] & alive[n:] & (dist < ranges[i])).astype(np.int8))
            if not alive[i]:
                assert not obs[a].any()  # a dead unit observes zeros
        if not env.agents:
            obs, infos = env.reset()
        obs, _, _, _, infos = env.step({a: random_policy(rng)(infos[a]["action_mask"]) for a in env.agents})
    # positions in the state are scaled to [0, 1] by the map size
    units = env.state()[: 10 * (n + n_enemies)].reshape(n + n_enemies, 10)
    assert units[:, 1:3].min() >= 0.0 and units[:, 1:3].max() <= 1.0


def test_same_seed_same_trajectory() -> None:
    a, b = make_marl_env("smax-3m"), make_marl_env("smax-3m")
    ta = play(a, random_policy(np.random.default_rng(5)), seed=123)
    tb = play(b, random_policy(np.random.default_rng(5)), seed=123)
    tc = play(a, random_policy(np.random.default_rng(5)), seed=123)  # same env, reset again
    for k in ("obs", "state", "mask", "reward"):
        np.testing.assert_array_equal(np.asarray(ta[k]), np.asarray(tb[k]))
        np.testing.assert_array_equal(np.asarray(ta[k]), np.asarray(tc[k]))
    other = play(a, random_policy(np.random.default_rng(5)), seed=124)
    assert not np.array_equal(ta["obs"][0], other["obs"][0])
    # seeds beyond 32 bits are not truncated (jax.random.PRNGKey would map 2**32 + 123 to 123's key)
    big = play(a, random_policy(np.random.default_rng(5)), seed=2**32 + 123)
    assert not np.array_equal(ta["obs"][0], big["obs"][0])


def test_battle_end_win_rate_and_reward() -> None:
    """Focus fire wins some 3m battles against the heuristic enemy and loses others; both end in a termination
    with SMAC's info, and the team return is SMAX's: the enemy health fraction removed (1 when all are dead)
    plus the win bonus of 1."""
    env = make_marl_env("smax-3m")
    outcomes = set()
    for seed in range(12):
        t = play(env, focus_fire, seed)
        info = t["infos"]["ally_0"]
        assert all(t["term"].values()) and not any(t["trunc"].values())
        assert set(info) == {"action_mask", "battle_won", "dead_allies", "dead_enemies"}
        assert t["success"] == float(info["battle_won"])
        if info["battle_won"]:
            assert info["dead_enemies"] == 3 and info["dead_allies"] < 3
            assert sum(t["reward"]) == pytest.approx(2.0, abs=1e-5) and t["reward"][-1] >= 1.0
        else:
            assert info["dead_allies"] == 3
            assert info["dead_enemies"] / 3 - 1e-5 <= sum(t["reward"]) < 1.0
        assert np.all(t["mask"][-1][:, :4] == 0) == (info["dead_allies"] == 3)
        outcomes.add(bool(info["battle_won"]))
    assert outcomes == {True, False}


def test_random_episode_ends_and_time_limit_is_truncation() -> None:
    env = make_marl_env("smax-3m", seed=0)
    t = play(env, random_policy(np.random.default_rng(0)), seed=7)
    assert 1 <= len(t["reward"]) <= 100 and (all(t["term"].values()) or all(t["trunc"].values()))
    assert {"battle_won", "dead_allies", "dead_enemies"} <= set(t["infos"]["ally_0"])
    assert 0.0 <= sum(t["reward"]) <= 2.0 + 1e-6
    # everyone holding still: the enemies do not come within range in 5 steps -> truncation, no win
    short = make_marl_env("smax-3m", max_steps=5)
    assert short.env_info()["episode_limit"] == 5
    t = play(short, lambda m: STOP_ACTION, seed=0)
    assert len(t["reward"]) == 5 and all(t["trunc"].values()) and not any(t["term"].values())
    assert t["success"] == 0.0 and t["infos"]["ally_0"]["battle_won"] is False
    with pytest.raises(RuntimeError, match="reset"):
        short.step(dict.fromkeys(short.possible_agents, STOP_ACTION))


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="map"):
        make_marl_env("smax-nope")
    with pytest.raises(ValueError, match="action_type"):
        make_marl_env("smax-3m", action_type="continuous")
    with pytest.raises(ValueError, match="option"):
        make_marl_env("smax-3m", no_such_option=1)
    env = make_marl_env("smax-3m")
    with pytest.raises(ValueError, match="seed"):
        env.reset(seed=-1)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(dict.fromkeys(env.agents, 8))
