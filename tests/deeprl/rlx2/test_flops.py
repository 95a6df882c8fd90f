"""RLx2's FLOPs accounting on real TD3/SAC agents: spec eq. (16) with the ER budget of spec §1.3 gives the
training/inference FLOPs ratios of RLx2 Table 2 (HalfCheetah 0.139 / Hopper 0.043), and the run-level
accumulator adds the RigL dense-gradient term only on update iterations."""

import numpy as np
import pytest
import torch

from deeprl.rlx2.config import RLx2Config
from deeprl.rlx2.flops import ActorCriticFlops
from deeprl.rlx2.sac import SACAgent
from deeprl.rlx2.td3 import TD3Agent


def _agent(cls, obs: int, act: int, sa: float, sc: float, **kw):
    cfg = RLx2Config(algo=cls.algo, total_steps=100_000, warmup=1000, actor_sparsity=sa, critic_sparsity=sc,
                     **kw).resolve()
    ones = np.ones(act, dtype=np.float32)
    return cls(obs, act, -ones, ones, cfg, torch.device("cpu"))


@pytest.mark.parametrize("obs,act,sa,sc,train,infer", [
    (17, 6, 0.90, 0.85, 0.139, 0.10),  # HalfCheetah, RLx2 Table 2: 0.138 / 0.10 (spec check 0.139)
    (11, 3, 0.98, 0.95, 0.043, 0.02),  # Hopper: 0.043 / 0.02
])
def test_td3_ratios_reproduce_rlx2_table2(obs, act, sa, sc, train, infer):
    ag = _agent(TD3Agent, obs, act, sa, sc)
    acc = ActorCriticFlops("td3", 256, 2)
    f = {k: t.forward_flops() for k, t in ag.trainers.items()}
    fd = {k: t.forward_flops(dense=True) for k, t in ag.trainers.items()}
    assert acc.per_iteration(f) / acc.per_iteration(fd) == pytest.approx(train, abs=0.003)
    assert f["actor"] / fd["actor"] == pytest.approx(infer, abs=0.005)
    # dense reference of eq. (16) by hand: actor 2(obs*256 + 256*256 + 256*act), twin critic 2x Q
    fa = 2 * (obs * 256 + 256 * 256 + 256 * act)
    fq = 2 * 2 * ((obs + act) * 256 + 256 * 256 + 256)
    assert fd == {"actor": fa, "critic": fq}
    assert acc.per_iteration(fd) == 256 * (fa + fq + 3 * fq + (3 * fa + 2 * fq / 2) / 2)


def test_accumulator_rigl_term_and_sac_nstep():
    acc = ActorCriticFlops("td3", 10, 2)
    f, fd = {"actor": 1.0, "critic": 4.0}, {"actor": 10.0, "critic": 40.0}
    acc.iteration(f, fd)
    base = acc.sparse_total
    acc.iteration(f, fd, topology={"critic": True, "actor": False})
    assert acc.sparse_total - 2 * base == pytest.approx(10 * (40.0 - 4.0))
    sac = ActorCriticFlops("sac", 1)
    one, three = sac.per_iteration(f, 1), sac.per_iteration(f, 3)
    assert three - one == pytest.approx(2 * f["actor"])  # two more actor forwards for the n=3 target


def test_sac_agent_groups_and_target_sharing():
    ag = _agent(SACAgent, 11, 3, 0.9, 0.9)
    assert set(ag.trainers) == {"actor", "critic"}
    assert ag.actor_trainer.density() == pytest.approx(0.1, abs=1e-3)
    tr = ag.critic_trainer.trainer
    shared = tr.target_masks(ag.critic_target)
    assert shared and all(shared[k] is tr.masks["critic"][k] for k in shared)
    tr.check_invariants()


def test_tiny_width_matches_eq26_and_parameter_count():
    from deeprl.rlx2.networks import TwinQ, mlp, tiny_width

    assert tiny_width(17, 6, 0.9) == 73  # spec §2.6: HalfCheetah actor at 90 % -> h' ~ 73
    for n_in, n_out, s in [(17, 6, 0.9), (11, 3, 0.98), (23, 1, 0.85)]:
        h = tiny_width(n_in, n_out, s)
        n_tiny = sum(p.numel() for p in mlp([n_in, h, h, n_out]).parameters())
        n_dense = sum(p.numel() for p in mlp([n_in, 256, 256, n_out]).parameters())
        assert abs(n_tiny - (1 - s) * n_dense) <= 2 * h + n_in + n_out + 4  # nearest integer width
    ag = _agent(TD3Agent, 17, 6, 0.9, 0.85, dense=True, hidden=73, critic_hidden=97)
    assert isinstance(ag.critic, TwinQ) and ag.critic.q1[0].out_features == 97 and ag.actor.net[0].out_features == 73
