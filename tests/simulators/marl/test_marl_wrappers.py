"""The multi-agent wrappers pass PettingZoo's API and seed tests and expose masks, state, success."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test, parallel_seed_test

from simulators.marl import make_marl_env

TASKS = ["lbf", "spread", "rware"]


@pytest.mark.parametrize("name", TASKS)
def test_parallel_api(name: str) -> None:
    parallel_api_test(make_marl_env(name, seed=0), num_cycles=600)


@pytest.mark.parametrize("name", TASKS)
def test_parallel_seed(name: str) -> None:
    parallel_seed_test(lambda: make_marl_env(name, seed=0), num_cycles=100)


@pytest.mark.parametrize("name", TASKS)
def test_state_masks_and_seeds(name: str) -> None:
    env = make_marl_env(name, seed=3)
    info = env.env_info()
    obs, infos = env.reset()
    assert env.state().shape == (info["state_dim"],) and env.state().dtype == np.float32
    for a in env.possible_agents:
        assert obs[a].shape == (info["obs_dim"],)
        m = infos[a]["action_mask"]
        assert m.shape == (info["n_actions"],) and m.dtype == np.int8 and m[0] == 1
    first = np.stack([obs[a] for a in env.possible_agents])
    # the factory seed is used once: same seed -> same first observation, other seed -> another one
    again = make_marl_env(name, seed=3).reset()[0]
    other = make_marl_env(name, seed=4).reset()[0]
    np.testing.assert_array_equal(first, np.stack([again[a] for a in env.possible_agents]))
    assert not np.array_equal(first, np.stack([other[a] for a in env.possible_agents]))


def test_lbf_masks_follow_the_rules_and_truncation_is_not_termination() -> None:
    env = make_marl_env("lbf", seed=0)
    _, infos = env.reset()
    inner = env._env
    for i, p in enumerate(inner.players):
        m = infos[env.possible_agents[i]]["action_mask"]
        # LOAD (5) is available iff food is adjacent (lbforaging's rule)
        assert m[5] == int(inner.adjacent_food(*p.position) > 0)
        r, c = p.position
        assert m[1] == int(r > 0 and inner.field[r - 1, c] == 0 and (r - 1, c) not in
                           [q.position for q in inner.players])
    rng = np.random.default_rng(0)
    steps, ret = 0, 0.0
    while env.agents:
        acts = {a: int(rng.integers(0, 1)) for a in env.agents}  # always NONE: food never loaded
        _, rew, term, trunc, _ = env.step(acts)
        ret += sum(rew.values())
        steps += 1
    assert steps == env.episode_limit and ret == 0.0
    assert trunc[env.possible_agents[0]] and not term[env.possible_agents[0]] and env.success() == 0.0


def test_bad_names_and_actions() -> None:
    with pytest.raises(ValueError, match="task"):
        make_marl_env("nope")
    with pytest.raises(ValueError, match="jaxmarl"):
        make_marl_env("smax")
    env = make_marl_env("spread", seed=0)
    env.reset()
    with pytest.raises(ValueError, match="action"):
        env.step(dict.fromkeys(env.agents, 99))
    with pytest.raises(ValueError, match="missing"):
        env.step({})


def test_smax_without_jaxmarl_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs with and without the [smax] extra: a missing jaxmarl gives one clear error naming the install."""
    monkeypatch.setitem(sys.modules, "jaxmarl", None)  # makes `import jaxmarl` fail even where it is installed
    for task in ("smax-3m", "smax-2s3z", "smax-3s5z"):
        with pytest.raises(ValueError, match=r"jaxmarl.*not installed.*pip install -e \.\[smax\]"):
            make_marl_env(task, seed=0)


def test_importing_the_simulators_does_not_import_jax() -> None:
    code = ("import sys, simulators, simulators.marl, simulators.marl.smax; "
            "from simulators.marl import make_marl_env; make_marl_env('spread'); "
            "sys.exit(int(any(m == 'jax' or m.startswith(('jax.', 'jaxmarl')) for m in sys.modules)))")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
