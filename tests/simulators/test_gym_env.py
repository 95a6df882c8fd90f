"""The gymnasium wrapper: check_env, registration, seeding, and agreement with the model."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from scipy import stats

import simulators
from simulators import ENV_ID, LinearMDPEnv, dp, make_instance


@pytest.mark.parametrize("name", ["random", "hard", "safe-risky", "misspecified"])
def test_check_env_passes(name):
    env = LinearMDPEnv(instance=name, seed_instance=1)
    check_env(env, skip_render_check=True)


def test_registered_on_import_and_makeable():
    assert simulators.ENV_ID in gym.registry
    env = gym.make(ENV_ID, instance="hard", seed_instance=3, d=3, H=4, K=500)
    obs, info = env.reset(seed=0)
    assert obs == 0 and info["h"] == 0 and info["phi"].shape == (env.unwrapped.mdp.A, 4)
    env.close()
    mdp = make_instance("tabular", seed=0, S=3, A=2, H=2)
    env = gym.make(ENV_ID, mdp=mdp)
    assert env.observation_space.n == 3 and env.action_space.n == 2


def test_episode_terminates_after_h_steps_with_model_rewards():
    mdp = make_instance("random", seed=2, S=8, A=3, d=4, H=5)
    env = LinearMDPEnv(mdp=mdp)
    pi = dp.optimal(mdp).pi
    s, _ = env.reset(seed=5)
    for h in range(mdp.H):
        a = int(pi[h, s])
        s2, r, term, trunc, info = env.step(a)
        assert r == pytest.approx(float(mdp.R[h, s, a]))
        assert mdp.P[h, s, a, s2] > 0
        assert term == (h == mdp.H - 1) and not trunc and info["h"] == h + 1
        np.testing.assert_array_equal(env.unwrapped.features(), mdp.phi[s2])
        s = s2
    with pytest.raises(RuntimeError):
        env.step(0)
    with pytest.raises(ValueError, match="action"):
        env.reset(seed=0)
        env.step(7)


def test_same_seed_same_trajectory_and_next_state_frequencies():
    mdp = make_instance("tabular", seed=4, S=5, A=2, H=2, a_P=2.0)
    env = LinearMDPEnv(mdp=mdp)

    def first_transition(seed):
        env.reset(seed=seed)
        return env.step(1)[0]

    assert [first_transition(i) for i in range(20)] == [first_transition(i) for i in range(20)]
    env.reset(seed=123)
    counts = np.zeros(mdp.S)
    for _ in range(4000):
        env.reset()
        counts[env.step(1)[0]] += 1
    assert stats.chisquare(counts, np.asarray(mdp.P[0, 0, 1]) * counts.sum()).pvalue > 1e-3


def test_constructor_errors():
    with pytest.raises(ValueError, match="instance must be one of"):
        LinearMDPEnv(instance="nope")
    with pytest.raises(ValueError, match="together with mdp"):
        LinearMDPEnv(mdp=make_instance("tabular"), S=3)
    with pytest.raises(ValueError, match="render_mode"):
        LinearMDPEnv(render_mode="human")
