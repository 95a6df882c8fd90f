"""FLOPs accounting (§1.10): hand-computed MLP, eq. (15) totals through the trainer, eq. (16) TD3 ratios."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from deeprl.sparse import (
    ErdosRenyi,
    FlopsCounter,
    SparseGroup,
    SparseTrainer,
    UpdateSchedule,
    rigl_train_flops,
    td3_iteration_flops,
)
from deeprl.sparse.groups import LayerInfo


def test_hand_computed_mlp_forward_and_training_totals():
    net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    tr = SparseTrainer(SparseGroup("net", net, 0.5, distribution="uniform"), opt,
                       update_schedule=UpdateSchedule(3, 100), samples_per_step=10)
    # nnz = round(0.5*12) = 6 and round(0.5*6) = 3 -> f_S = 2*(6+3) = 18; f_D = 2*(12+6) = 36 (eq. (14))
    assert tr.flops.forward("net") == 18 and tr.flops.forward("net", sparse=False) == 36
    assert tr.flops.forward("net", sparse=False, full=True) == 36 + 3 + 2  # + one add per bias
    assert tr.flops.inference_ratio("net") == pytest.approx(0.5)
    rows = tr.flops.layer_table("net")
    assert [(r["nnz"], r["flops_sparse"], r["flops_dense"]) for r in rows] == [(6, 12, 24), (3, 6, 12)]
    for _ in range(6):
        opt.zero_grad()
        net(torch.randn(5, 4)).sum().backward()
        tr.step()
    # 6 steps, updates (RigL) at t = 3, 6: 4 x 3 f_S + 2 x (2 f_S + f_D), per sample x 10 samples
    tot = tr.flops.totals["train/net"]
    assert tot["sparse"] == 10 * (4 * 3 * 18 + 2 * (2 * 18 + 36))
    assert tot["dense"] == 10 * 6 * 3 * 36
    # averaged over an interval this is eq. (15)
    assert (3 * 18 * 2 + 2 * 18 + 36) / 3 == pytest.approx(rigl_train_flops(18, 36, 2))


def test_recurrent_cell_flops():
    cell = nn.GRUCell(2, 3)
    lay = {n: LayerInfo(n, tuple(p.shape), f"gru_{n[-2:]}", True, True, 3)
           for n, p in cell.named_parameters() if n.startswith("weight")}
    c = FlopsCounter()
    c.register("gru", list(lay.values()), lambda: {"weight_ih": 9, "weight_hh": 27})
    assert c.forward("gru", sparse=False) == 2 * 18 + 2 * 27
    assert c.forward("gru", sparse=False, full=True) == 2 * 18 + 2 * 27 + 9 + 9 + 11 * 3
    assert c.forward("gru", sparse=True) == 2 * 9 + 2 * 27


def _f(shapes, dens=None):
    return sum(2 * (1.0 if dens is None else dens[k]) * a * b for k, (a, b) in shapes.items())


# (obs, act, actor S, critic S, RLx2 Table 2 train-FLOPs ratio reproduced in the spec §1.10)
@pytest.mark.parametrize(
    ("obs", "act", "sa", "sc", "ratio"),
    [(17, 6, 0.90, 0.85, 0.139), (11, 3, 0.98, 0.95, 0.043), (17, 6, 0.97, 0.95, 0.046),
     (111, 8, 0.96, 0.88, 0.103)],
    ids=["HalfCheetah", "Hopper", "Walker2d", "Ant"],
)
def test_td3_train_flops_ratio_eq16_reproduces_spec(obs, act, sa, sc, ratio):
    actor = {"l1": (256, obs), "l2": (256, 256), "l3": (act, 256)}
    critic = {f"{q}.{k}": s for q in ("q1", "q2")
              for k, s in {"l1": (256, obs + act), "l2": (256, 256), "l3": (1, 256)}.items()}
    da, dc = ErdosRenyi().densities(actor, sa), ErdosRenyi().densities(critic, sc)
    q1 = {k: v for k, v in critic.items() if k.startswith("q1")}
    sparse = td3_iteration_flops(_f(actor, da), _f(critic, dc), _f(q1, dc))
    dense = td3_iteration_flops(_f(actor), _f(critic), _f(q1))
    assert sparse / dense == pytest.approx(ratio, abs=0.003)
    assert _f(actor, da) / _f(actor) == pytest.approx(1 - sa, abs=1e-3)  # inference ratio = actor density


def test_counter_add_ratio_and_errors():
    c = FlopsCounter()
    c.add("x", 1.0, 4.0)
    c.add("x", 1.0, 4.0)
    assert c.ratio("x") == 0.25
    with pytest.raises(KeyError):
        c.ratio("y")
    with pytest.raises(ValueError, match="interval"):
        rigl_train_flops(1, 2, 0)
