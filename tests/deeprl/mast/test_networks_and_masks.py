"""The QMIX mixer is monotone; masks on every network (agents, mixer, hypernetworks, central nets)
keep their densities through training, topology updates and target copies."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deeprl.mast.config import MastConfig
from deeprl.mast.learner import QLearner
from deeprl.mast.mixers import QMixer

ENV_INFO = {"n_agents": 3, "n_actions": 5, "obs_dim": 7, "state_dim": 11, "episode_limit": 6}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_qmix_mixer_is_monotone(seed: int) -> None:
    torch.manual_seed(seed)
    mixer = QMixer(4, 9, embed=8, hypernet_embed=16)
    for p in mixer.parameters():  # large random weights of both signs
        torch.nn.init.normal_(p, std=2.0)
    q = (torch.randn(64, 5, 4) * 5).requires_grad_(True)
    s = torch.randn(64, 5, 9) * 3
    mixer(q, s).sum().backward()
    assert q.grad is not None and bool((q.grad >= 0).all())
    assert bool((q.grad > 0).any())


def _batch(rng: np.random.Generator, b: int = 4, t_len: int = 6) -> dict[str, np.ndarray]:
    n, a = ENV_INFO["n_agents"], ENV_INFO["n_actions"]
    lengths = rng.integers(2, t_len + 1, size=b)
    filled = (np.arange(t_len)[None] < lengths[:, None]).astype(np.float32)
    avail = (rng.random((b, t_len + 1, n, a)) < 0.7).astype(np.int8)
    avail[..., 0] = 1
    avail[np.arange(t_len + 1)[None] > lengths[:, None]] = 0  # padding has no available action, as in the replay
    term = np.zeros((b, t_len), np.float32)
    term[np.arange(b), lengths - 1] = rng.random(b) < 0.5
    return {
        "obs": rng.standard_normal((b, t_len + 1, n, ENV_INFO["obs_dim"])).astype(np.float32),
        "state": rng.standard_normal((b, t_len + 1, ENV_INFO["state_dim"])).astype(np.float32),
        "avail": avail, "actions": rng.integers(0, 1, size=(b, t_len, n)).astype(np.int64),
        "reward": (rng.standard_normal((b, t_len)) * filled).astype(np.float32),
        "terminated": term, "filled": filled,
    }


@pytest.mark.parametrize("algorithm", ["qmix", "wqmix", "res"])
def test_masks_keep_their_densities_on_all_networks(algorithm: str) -> None:
    torch.manual_seed(0)
    cfg = MastConfig.preset("mast", algorithm=algorithm, sparsity=0.9, mask_update_episodes=3, hidden=16,
                            mixer_embed=8, hypernet_embed=16, central_embed=32, batch_size=4, buffer_size=8,
                            capacity_on=4)
    learner = QLearner(cfg, ENV_INFO, total_train_steps=40)
    tr = learner.sparse.trainer
    assert tr is not None
    groups = {"agent", "mixer"} | ({"central_agent", "central_mixer"} if algorithm == "wqmix" else set())
    assert set(tr.groups) == groups
    # every matmul weight of every network is sparse, hypernetworks and GRU matrices included
    assert {"fc1.weight", "rnn.weight_ih_l0", "rnn.weight_hh_l0", "fc2.weight"} == set(tr.masks["agent"])
    assert {"hyper_w1.0.weight", "hyper_w1.2.weight", "hyper_w2.0.weight", "hyper_w2.2.weight",
            "hyper_b1.weight", "V.0.weight", "V.2.weight"} == set(tr.masks["mixer"])
    nnz0 = {g: tr.nnz(g) for g in groups}
    for g in groups:
        assert tr.density(g) == pytest.approx(0.1, abs=0.01)
    rng = np.random.default_rng(0)
    before = {g: {k: m.clone() for k, m in tr.masks[g].items()} for g in groups}
    updates = 0
    for i in range(10):
        logs = learner.train_step(_batch(rng))
        assert np.isfinite(logs["loss"]) and np.isfinite(logs.get("sm_gap", 0.0))
        updates += int(logs["topology_update"])
        for g in groups:
            assert tr.nnz(g) == nnz0[g]  # I2: per-layer counts constant
        tr.check_invariants(targets=False)  # I1 online
        if i % 4 == 3:
            # a hard copy puts the current pattern into the targets (spec §1.8: between copies a target
            # keeps the pattern of its last copy, even across topology updates)
            learner.update_targets()
            tr.check_invariants(targets=True)
            for k, t in learner.targets.items():
                for (name, p), tp in zip(learner.nets[k].named_parameters(), t.parameters()):
                    assert torch.equal(p, tp), name
    assert updates == 3
    changed = any(not torch.equal(before[g][k], tr.masks[g][k]) for g in groups for k in before[g])
    assert changed  # RigL moved connections
    # targets share the mask objects (I5) and are zero outside them after a hard copy
    for k, t in learner.targets.items():
        for name, m in tr.target_masks(t).items():
            assert m is tr.masks[k][name]
    r = learner.sparse.ratios()
    assert r["density/all"] == pytest.approx(0.1, abs=0.01)
    assert 0 < r["inference_flops_ratio"] < 0.15


def test_dense_and_static_topologies() -> None:
    cfg = MastConfig.preset("dense", hidden=16, batch_size=4, buffer_size=8, capacity_on=4)
    learner = QLearner(cfg, ENV_INFO, total_train_steps=10)
    assert learner.sparse.trainer is None
    learner.train_step(_batch(np.random.default_rng(1)))
    assert learner.sparse.ratios()["train_flops_ratio"] == pytest.approx(1.0)
    cfg = MastConfig.preset("static", hidden=16, batch_size=4, buffer_size=8, capacity_on=4, sparsity=0.8)
    learner = QLearner(cfg, ENV_INFO, total_train_steps=10)
    tr = learner.sparse.trainer
    before = {k: m.clone() for k, m in tr.masks["agent"].items()}
    for _ in range(3):
        assert learner.train_step(_batch(np.random.default_rng(2)))["topology_update"] == 0.0
    assert all(torch.equal(before[k], tr.masks["agent"][k]) for k in before)


def test_logged_q_tot_and_return_to_go_are_in_the_training_reward_units() -> None:
    """train/return_to_go is the replayed episodes' discounted return of the (standardised) rewards the
    TD targets use, averaged over filled steps like train/q_tot, so the two are comparable."""
    torch.manual_seed(0)
    cfg = MastConfig.preset("dense", hidden=16, batch_size=4, buffer_size=8, capacity_on=4)
    learner = QLearner(cfg, ENV_INFO, total_train_steps=10)
    b = _batch(np.random.default_rng(4))
    logs = learner.train_step(b)
    ms = learner.rew_ms  # updated on this batch before standardising it
    r = (b["reward"] - ms.mean) / np.sqrt(ms.var + 1e-8) * b["filled"]
    g, total = np.zeros(r.shape[0]), 0.0
    for t in range(r.shape[1] - 1, -1, -1):
        g = (r[:, t] + cfg.gamma * g) * b["filled"][:, t]
        total += g.sum()
    assert logs["return_to_go"] == pytest.approx(total / b["filled"].sum(), rel=1e-5)


def test_acting_inputs_match_the_training_unroll() -> None:
    """The one-step acting path (NumPy inputs, carried hidden state) equals the batched unroll."""
    torch.manual_seed(0)
    cfg = MastConfig.preset("dense", hidden=16)
    learner = QLearner(cfg, ENV_INFO, total_train_steps=10)
    b = _batch(np.random.default_rng(3), b=1)
    from deeprl.mast.agent import build_agent_inputs

    acts = torch.as_tensor(b["actions"])
    last = torch.cat([torch.full((1, 1, 3), -1, dtype=torch.long), acts], 1)
    ref = learner.nets["agent"].unroll(build_agent_inputs(torch.as_tensor(b["obs"]), last, 5))[0]
    h = learner.init_hidden()
    prev = np.full(3, -1, np.int64)
    for t in range(4):
        q, h = learner.act_utilities(b["obs"][0, t], prev, h)
        np.testing.assert_allclose(q, ref[t].detach().numpy(), rtol=1e-5, atol=1e-6)
        prev = b["actions"][0, t]


def test_method_label_names_the_arm():
    """The progress bar shows the arm (a MAST run is labelled ``mast``, not its topology ``rigl``)."""
    from deeprl.mast.config import PRESETS

    assert [MastConfig.preset(p).method_label for p in PRESETS] == list(PRESETS)
    assert MastConfig.preset("mast", dual_buffer=False).method_label == "rigl+sm+tdlam"
