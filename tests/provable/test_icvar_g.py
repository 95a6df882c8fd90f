"""ICVaR-G (spec §5.4): the truth-only class plays pi*, the confidence set keeps the truth, the class."""

from __future__ import annotations

import numpy as np
import pytest

from provable.agents.icvar_g import ICVaRG, icvar_g_beta_G, perturbation_class
from simulators import dp, make_instance, rollout


def run_episodes(agent, mdp, K: int, seed: int, alpha: float, check=None) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    pols = np.empty((K, mdp.H, mdp.S), dtype=np.int64)
    for k in range(K):
        pols[k] = agent.policy()
        if check is not None:
            check(agent, k)
        s, a, r = rollout.sample_episode(mdp, pols[k], rng)
        agent.observe(s, a, r)
    return dp.regret(mdp, pols, alpha=alpha), pols


@pytest.mark.parametrize("alpha", [1.0, 0.5, 0.1])
@pytest.mark.parametrize(
    "name, params", [("random", dict(S=8, A=3, d=4, H=4)), ("safe-risky", dict(H=5)), ("tabular", dict())]
)
def test_truth_only_class_plays_pi_star(name: str, params: dict, alpha: float) -> None:
    """With P = {truth}, eq. (30) is the exact iterated-CVaR DP: Q_hat = Q*, zero regret, pi = pi*."""
    mdp = make_instance(name, seed=4, **params)
    opt = dp.optimal(mdp, alpha=alpha)
    agent = ICVaRG(mdp.phi, mdp.H, models=np.asarray(mdp.P)[None], reward=mdp.R, seed=1, alpha=alpha, K=30)
    regret, pols = run_episodes(agent, mdp, 30, seed=2, alpha=alpha)
    np.testing.assert_allclose(agent.Q, opt.Q, rtol=0, atol=1e-12)
    assert np.all(np.abs(regret) <= 1e-12)
    # the played action is pi* wherever pi* is unique (ties: any maximiser is optimal)
    Qs = np.sort(opt.Q, axis=-1)
    unique = Qs[..., -1] - Qs[..., -2] > 1e-9 if mdp.A > 1 else np.ones((mdp.H, mdp.S), bool)
    for pi in pols:
        np.testing.assert_array_equal(pi[unique], opt.pi[unique])


def test_theory_width_keeps_the_truth_and_is_optimistic() -> None:
    """With beta_G of eq. (29), the truth stays in every P_{k,h} and V_hat_1 >= V*_1 (seeded run)."""
    mdp = make_instance("random", seed=0, S=10, A=3, d=5, H=4)
    alpha = 0.5
    V_star = dp.optimal(mdp, alpha=alpha).V
    agent = ICVaRG.from_mdp(mdp, seed=0, M=16, rho=1.0, alpha=alpha, K=600)

    def check(ag, k):
        for h in range(mdp.H):
            assert 0 in ag.confidence_set(h)
        assert np.all(ag.V[: mdp.H] >= V_star[: mdp.H] - 1e-12)

    run_episodes(agent, mdp, 600, seed=1, alpha=alpha, check=check)
    # the truth fits best: its loss (eq. 28) is below every other model's at every informative step
    gaps = agent.loss[: mdp.H - 1, 1:] - agent.loss[: mdp.H - 1, :1]
    assert np.all(gaps > 0.0)


def test_elimination_reaches_pi_star() -> None:
    """rho = 1, practical width: once the sets shrink to the truth the agent plays pi* (regret 0)."""
    mdp = make_instance("random", seed=0, S=10, A=3, d=5, H=4)
    alpha = 1.0
    agent = ICVaRG.from_mdp(mdp, seed=0, M=16, rho=1.0, alpha=alpha, K=1200, bonus_scale=0.3)
    regret, _ = run_episodes(agent, mdp, 1200, seed=1, alpha=alpha)
    assert np.all(regret[-100:] <= 1e-12)
    assert [agent.confidence_set(h).tolist() for h in range(mdp.H - 1)] == [[0]] * (mdp.H - 1)


def test_perturbation_class() -> None:
    mdp = make_instance("random", seed=1, S=6, A=2, d=3, H=3)
    models = perturbation_class(mdp.P, M=4, rho=0.2, seed=0)
    assert models.shape == (4, 3, 6, 2, 6)
    np.testing.assert_array_equal(models[0], mdp.P / mdp.P.sum(axis=-1, keepdims=True))
    np.testing.assert_allclose(models.sum(axis=-1), 1.0, atol=1e-12)
    assert np.all(models >= 0.0)
    assert np.all(np.abs(models[1:] - models[0]).max(axis=(1, 2, 3, 4)) > 1e-3)
    np.testing.assert_array_equal(models, perturbation_class(mdp.P, M=4, rho=0.2, seed=0))
    assert icvar_g_beta_G(4, 3, 100, 0.05, 8) ** 2 == pytest.approx(2 * 8 * np.log(2 * 4 * 3 * 100 / 0.05))


@pytest.mark.parametrize(
    "kwargs, word",
    [(dict(M=0), "M"), (dict(rho=0.0), "rho")],
)
def test_class_bad_input(kwargs: dict, word: str) -> None:
    mdp = make_instance("safe-risky", seed=0, H=3)
    with pytest.raises(ValueError, match=word):
        perturbation_class(mdp.P, **kwargs)


def test_agent_bad_input() -> None:
    mdp = make_instance("safe-risky", seed=0, H=3)
    good = np.asarray(mdp.P)[None]
    with pytest.raises(ValueError, match="models"):
        ICVaRG(mdp.phi, mdp.H, models=good[:, :2], reward=mdp.R)
    with pytest.raises(ValueError, match="models"):
        ICVaRG(mdp.phi, mdp.H, models=2.0 * good, reward=mdp.R)
    with pytest.raises(ValueError, match="alpha"):
        ICVaRG(mdp.phi, mdp.H, models=good, reward=mdp.R, alpha=0.0)
    with pytest.raises(ValueError, match="bonus_scale"):
        ICVaRG(mdp.phi, mdp.H, models=good, reward=mdp.R, bonus_scale=-1.0)
    with pytest.raises(ValueError, match="reward"):
        ICVaRG(mdp.phi, mdp.H, models=good)
    with pytest.raises(ValueError, match="models is required"):
        ICVaRG(mdp.phi, mdp.H, reward=mdp.R)


def test_runs_in_the_harness_with_a_model_class() -> None:
    """The registry entry and the harness's run_one take the class through the ``models`` hyper-parameter."""
    from provable.agents import ALGORITHMS, build_agent
    from provable.harness.run import RunConfig, run_one

    mdp = make_instance("safe-risky", seed=0, H=3)
    models = perturbation_class(mdp.P, M=4, rho=0.2, seed=0)
    agent = build_agent(ALGORITHMS["icvar-g"], mdp, 0, models=models, alpha=0.5, K=10)
    assert isinstance(agent, ICVaRG) and agent.M == 4
    out = run_one(RunConfig(algo="icvar-g", seed=0, instance="safe-risky", K=20, params=dict(H=3),
                            alphas=(0.5,), agent_alpha=0.5, hyper={"models": models}))
    assert out["cum_regret"][0.5].shape == (20,) and np.all(out["regret"][0.5] >= -1e-12)


def test_regret_cli_runs_icvar_g_with_its_default_class(tmp_path) -> None:
    """``python -m provable regret --algo icvar-g`` builds the spec §5.4 class around the instance (from_mdp)."""
    import json

    from provable.harness.cli import regret_main

    rc = regret_main(["--algo", "icvar-g", "--instance", "safe-risky", "--H", "3", "--K", "16", "--seeds", "2",
                      "--alpha", "0.5", "--out", str(tmp_path / "run"), "--figures", str(tmp_path / "fig"),
                      "--no-progress", "--bootstrap", "50", "--workers", "1"])
    assert rc == 0
    res = json.loads((tmp_path / "run" / "results.json").read_text())
    assert "icvar-g" in json.dumps(res)
