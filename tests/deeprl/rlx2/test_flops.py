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
