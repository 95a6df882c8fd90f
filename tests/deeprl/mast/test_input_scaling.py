"""Input scaling (``input_scale="bounds"``): observations and state divided by their spaces' bounds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gymnasium import spaces

from deeprl.mast.config import MastConfig
from deeprl.mast.input_scaling import ScaledInputs, bound_scale, scale_inputs
from deeprl.mast.train import train
from simulators.marl import make_marl_env


def test_bound_scale_is_the_largest_bound_and_one_where_unbounded() -> None:
    box = spaces.Box(np.array([-1.0, -8.0, -np.inf, 0.0]), np.array([7.0, 2.0, np.inf, 0.0]), dtype=np.float32)
    np.testing.assert_array_equal(bound_scale(box), [7.0, 8.0, 1.0, 1.0])


def test_lbf_state_space_bounds_the_state() -> None:
    env = make_marl_env("lbf", seed=0)
    obs, _ = env.reset()
    lo = np.concatenate([env.observation_space(a).low for a in env.possible_agents])
    np.testing.assert_array_equal(env.state_space.low, lo)
    for _ in range(30):
        assert env.state_space.contains(env.state())
        acts = {a: int(np.flatnonzero(env.action_mask(a))[-1]) if hasattr(env, "action_mask") else 0
                for a in env.possible_agents}
        obs, _, term, trunc, _ = env.step(acts)
        if any(term.values()) or any(trunc.values()):
            break


def test_scaled_lbf_inputs_lie_in_unit_box_and_are_the_raw_ones_divided() -> None:
    raw, scaled = make_marl_env("lbf", seed=5), scale_inputs(make_marl_env("lbf", seed=5), "bounds")
    assert isinstance(scaled, ScaledInputs) and scaled.env_info() == raw.env_info()
    o_raw, _ = raw.reset(seed=11)
    o_sc, _ = scaled.reset(seed=11)
    rng = np.random.default_rng(0)
    for _ in range(20):
        for a in raw.possible_agents:
            s = bound_scale(raw.observation_space(a))
            assert s.max() == 7.0  # grid coordinates of the 8x8 task
            np.testing.assert_allclose(o_sc[a], o_raw[a] / s, rtol=1e-6)
            assert np.all(np.abs(o_sc[a]) <= 1.0) and scaled.observation_space(a).contains(o_sc[a])
        np.testing.assert_allclose(scaled.state(), raw.state() / bound_scale(raw.state_space), rtol=1e-6)
        assert np.all(np.abs(scaled.state()) <= 1.0)
        acts = {a: int(rng.integers(6)) for a in raw.possible_agents}
        o_raw, r_raw, t_raw, _, _ = raw.step(acts)
        o_sc, r_sc, t_sc, _, _ = scaled.step(acts)
        assert r_raw == r_sc and t_raw == t_sc  # same dynamics and rewards, only the inputs differ
        if any(t_raw.values()):
            break
    assert scale_inputs(raw, "none") is raw
    with pytest.raises(ValueError, match="input_scale"):
        scale_inputs(raw, "minmax")
    with pytest.raises(ValueError, match="input_scale"):
        MastConfig(input_scale="minmax")


def test_scaling_is_the_identity_on_spread_whose_spaces_are_unbounded() -> None:
    """MPE spread's observation and state spaces are unbounded, so ``input_scale="bounds"`` divides by 1:
    the inputs are bit for bit the raw ones (the README's spread half of the E-M1 base rests on this)."""
    raw, scaled = make_marl_env("spread", seed=3), scale_inputs(make_marl_env("spread", seed=3), "bounds")
    assert np.all(bound_scale(raw.state_space) == 1.0)
    o_raw, _ = raw.reset(seed=4)
    o_sc, _ = scaled.reset(seed=4)
    rng = np.random.default_rng(1)
    for _ in range(25):
        for a in raw.possible_agents:
            assert np.all(bound_scale(raw.observation_space(a)) == 1.0)
            assert o_sc[a].dtype == o_raw[a].dtype and np.array_equal(o_sc[a], o_raw[a])
        assert np.array_equal(scaled.state(), raw.state())
        acts = {a: int(rng.integers(5)) for a in raw.possible_agents}
        o_raw, _, t_raw, tr_raw, _ = raw.step(acts)
        o_sc, _, _, _, _ = scaled.step(acts)
        if any(t_raw.values()) or any(tr_raw.values()):
            break


def test_short_lbf_run_with_scaled_inputs(tmp_path: Path) -> None:
    cfg = MastConfig.preset("dense", task="lbf", steps=300, seed=1, hidden=16, mixer_embed=8, hypernet_embed=16,
                            batch_size=2, buffer_size=8, capacity_on=2, eval_interval=150, eval_episodes=2,
                            checkpoint_interval=300, log_interval=100, eps_anneal_steps=200, input_scale="bounds")
    out = train(cfg, tmp_path / "run", progress=False, tensorboard=False)
    assert out["train_steps"] > 0 and np.isfinite(out["evals"][-1]["return"])
