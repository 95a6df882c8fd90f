"""SparseTrainer invariants I1-I5 (§1.2), dense gradient only at updates (§1.6), Adam reset (eq. (12)),
shared target masks (§1.8), moving targets (MST eqs. (8)-(10)), recurrent layers, checkpoint resume."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from deeprl.sparse import (
    DropFractionSchedule,
    SparseGroup,
    SparseTrainer,
    ThreePhaseTarget,
    UpdateSchedule,
)


def mlp(n_in: int = 7, n_out: int = 3, h: int = 32, seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(n_in, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, n_out))


def batch(step: int, n_in: int = 7) -> torch.Tensor:
    return torch.randn(16, n_in, generator=torch.Generator().manual_seed(1000 + step))


def make(updater: str = "rigl", opt: str = "adam", interval: int = 5, end: int = 200, seed: int = 0,
         sparsity=0.8, **kw):
    net = mlp()
    group = SparseGroup("actor", net, sparsity)
    if opt == "adam":
        o = torch.optim.Adam(net.parameters(), lr=1e-2, weight_decay=1e-3)
    elif opt == "adamw":
        o = torch.optim.AdamW(net.parameters(), lr=1e-2, weight_decay=0.1)
    else:
        o = torch.optim.SGD(net.parameters(), lr=1e-2, momentum=0.9)
    tr = SparseTrainer(group, o, updater=updater, update_schedule=UpdateSchedule(interval, end), seed=seed,
                       drop_fraction=DropFractionSchedule("cosine", 0.5, end), **kw)
    return net, o, tr


def train_step(net, opt, tr, step: int) -> bool:
    opt.zero_grad()
    loss = (net(batch(step)) - 1.0).pow(2).mean()
    loss.backward()
    return tr.step(samples=16)


@pytest.mark.parametrize("updater", ["static", "set", "rigl"])
@pytest.mark.parametrize("opt", ["adam", "adamw", "sgd"])
def test_density_and_zeros_after_every_step_and_update(updater, opt):
    net, o, tr = make(updater, opt, interval=4)
    expected = tr.target_nnz("actor")
    assert tr.nnz("actor") == expected  # after init: eq. (6) counts of the ER distribution
    tr.check_invariants()
    n_updates = 0
    for step in range(24):
        stepped = train_step(net, o, tr, step)
        assert stepped == (not tr.is_update_step(step + 1))
        n_updates += not stepped
        assert tr.nnz("actor") == expected  # I2 after every step and topology update
        for k, p in tr.groups["actor"].params.items():
            assert torch.all(p.detach()[~tr.masks["actor"][k]] == 0)  # I1, exact zeros (AdamW decay too)
            assert torch.all(p.grad[~tr.masks["actor"][k]] == 0)  # I3 masked gradients
    assert n_updates == 6
    if updater != "static":
        assert tr.history[-1]["n_grown"] > 0


def test_direct_optimizer_step_is_masked_too():
    net, o, tr = make("static", "adamw")
    for step in range(5):
        o.zero_grad()
        net(batch(step)).sum().backward()
        o.step()  # not via the trainer: the step post-hook still applies W <- W * M (I4)
    tr.check_invariants()


def test_dense_gradient_buffer_only_on_update_iterations():
    net, o, tr = make("rigl", interval=4)
    for step in range(12):
        o.zero_grad()
        net(batch(step)).pow(2).mean().backward()
        if tr.is_update_step(step + 1):
            bufs = tr.dense_grad_buffers
            assert len(bufs) == 3
            for (_, k), g in bufs.items():
                p = tr.groups["actor"].params[k]
                assert torch.any(g[~tr.masks["actor"][k]] != 0)  # dense: nonzero where masked
                assert torch.equal(p.grad, g * tr.masks["actor"][k])  # the optimizer sees the masked one
        else:
            assert tr.dense_grad_buffers == {}
        tr.step()
        assert tr.dense_grad_buffers == {}  # freed after the update


def test_rigl_trainer_grows_at_largest_dense_gradient_with_zero_weight_and_zero_moments():
    lin = nn.Linear(4, 2, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[0.5, -0.1, 0.0, 0.3], [0.0, 0.0, -0.8, 0.05]]))
    opt = torch.optim.Adam(lin.parameters(), lr=0.1)
    tr = SparseTrainer(SparseGroup("net", lin, sparsity=0.375, distribution="uniform"), opt,
                       mask_init="magnitude", updater="rigl", update_schedule=UpdateSchedule(2, 100),
                       drop_fraction=DropFractionSchedule("constant", 0.4, 100))
    assert tr.masks["net"]["weight"].reshape(-1).tolist() == [1, 1, 0, 1, 0, 0, 1, 1]
    g = torch.tensor([[0.9, 0.2, -0.7, 0.1], [0.05, 0.6, 0.3, 0.65]])
    (lin.weight * torch.tensor([[1.0, 1, 1, 1], [1, 1, 1, 1]])).sum().backward()  # step 1: a normal Adam step
    tr.step()
    st = opt.state[lin.weight]
    assert torch.all(st["exp_avg"].reshape(-1)[[2, 4, 5]] == 0)
    w_before = lin.weight.detach().clone()
    opt.zero_grad()
    (lin.weight * g).sum().backward()  # step 2: update iteration, dL/dW = g
    assert tr.step() is False
    m = tr.masks["net"]["weight"].reshape(-1)
    # drop idx 1 and 7 (smallest |W| after step 1), grow idx 2 (|g| 0.7) and idx 7 (0.65, regrown)
    assert m.tolist() == [True, False, True, True, False, False, True, True]
    w = lin.weight.detach().reshape(-1)
    assert w[2] == 0.0  # newly grown weight starts at zero (eq. (11))
    assert w[7] == w_before.reshape(-1)[7]  # dropped-and-regrown keeps its value
    for key in ("exp_avg", "exp_avg_sq"):  # eq. (12): moments zero at inactive and newly grown entries
        v = st[key].reshape(-1)
        assert v[2] == 0 and v[1] == 0 and v[4] == 0 and v[5] == 0
        assert v[0] != 0 and v[7] != 0  # kept entries keep their moments
    opt.zero_grad()
    (lin.weight * g).sum().backward()
    tr.step()
    assert lin.weight.reshape(-1)[2] != 0  # the regrown weight now trains


def test_no_optimizer_reset_keeps_moments_rlx2_exact():
    net, o, tr = make("set", reset_optimizer_state=False, interval=3)
    for step in range(3):
        train_step(net, o, tr, step)
    grown = [k for k in tr.masks["actor"]]
    st = o.state[tr.groups["actor"].params[grown[1]]]["exp_avg"]
    assert torch.any(st[~tr.masks["actor"][grown[1]]] != 0)
    tr.check_invariants()


def test_target_networks_share_mask_objects_and_follow_updates():
    net, o, tr = make("rigl", interval=3)
    target = copy.deepcopy(net)
    tr.attach_target(target, "actor")
    tmasks = tr.target_masks(target)
    for k, m in tr.masks["actor"].items():
        assert tmasks[k] is m  # I5: same tensor objects, no copy
    ids = {k: id(m) for k, m in tr.masks["actor"].items()}
    for step in range(12):
        train_step(net, o, tr, step)
        tr.soft_update(0.05)
        tr.check_invariants(targets=True)  # eq. (13): target zero outside the (shared) mask
    assert {k: id(m) for k, m in tr.masks["actor"].items()} == ids
    for k in tr.masks["actor"]:
        assert tr.target_masks(target)[k] is tr.masks["actor"][k]
    tr.hard_update()
    for (_, p), (_, tp) in zip(net.named_parameters(), target.named_parameters()):
        assert torch.equal(p, tp)
    with pytest.raises(ValueError, match="copy"):
        tr.attach_target(net, "actor")


def test_soft_update_is_polyak_then_mask():
    net, o, tr = make("static")
    target = copy.deepcopy(net)
    with torch.no_grad():
        for p in target.parameters():
            p.add_(1.0)
    tr.attach_target(target, "actor")
    before = {k: v.detach().clone() for k, v in target.named_parameters()}
    tr.soft_update(0.1)
    for k, p in net.named_parameters():
        exp = 0.1 * p.detach() + 0.9 * before[k]
        if k in tr.masks["actor"]:
            exp = exp * tr.masks["actor"][k]
        assert torch.allclose(dict(target.named_parameters())[k], exp, atol=1e-7)


def test_moving_target_schedule_hits_er_counts_at_every_update():
    net = mlp(h=48)
    o = torch.optim.Adam(net.parameters(), lr=1e-3)
    sched = ThreePhaseTarget(total=40, s0=0.0, s_ultra=0.9, s_final=0.5, phi_w=0.2, phi_r=0.6)
    tr = SparseTrainer(SparseGroup("lm", net, sched), o, updater="rigl", update_schedule=UpdateSchedule(2, 41),
                       drop_fraction=DropFractionSchedule("cosine", 0.3, 40, boundaries=sched.boundaries))
    assert tr.density("lm") == 1.0  # S_0 = 0: dense start
    for step in range(40):
        train_step(net, o, tr, step)
        if tr.is_update_step(step + 1):
            assert tr.nnz("lm") == tr.target_nnz("lm", step + 1)
            tr.check_invariants()
    dens = [h["nnz"] for h in tr.history]
    assert min(dens) < 0.15 * max(dens)  # went through ultra-sparsification
    assert tr.density("lm") == pytest.approx(0.5, abs=0.02)  # restored to S_f


def test_recurrent_weights_are_sparse_layers():
    class Agent(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1 = nn.Linear(10, 16)
            self.rnn = nn.GRUCell(16, 16)
            self.fc2 = nn.Linear(16, 5)

        def forward(self, x, h):
            h = self.rnn(torch.relu(self.fc1(x)), h)
            return self.fc2(h), h

    agent = Agent()
    g = SparseGroup("agent", agent, 0.8)
    assert list(g.params) == ["fc1.weight", "rnn.weight_ih", "rnn.weight_hh", "fc2.weight"]
    o = torch.optim.Adam(agent.parameters(), lr=1e-2)
    tr = SparseTrainer(g, o, update_schedule=UpdateSchedule(2, 100))
    target = copy.deepcopy(agent)
    tr.attach_target(target, "agent")
    for _step in range(6):
        o.zero_grad()
        h = torch.zeros(4, 16)
        for _t in range(3):
            q, h = agent(torch.randn(4, 10), h)
        q.pow(2).mean().backward()
        tr.step()
        tr.hard_update()
        assert tr.nnz("agent") == tr.target_nnz("agent")
        tr.check_invariants()
    lstm = nn.LSTM(8, 12, num_layers=2)
    names = list(SparseGroup("lstm", lstm, 0.5).params)
    assert names == ["weight_ih_l0", "weight_hh_l0", "weight_ih_l1", "weight_hh_l1"]


def test_group_filters_and_errors():
    net = mlp()
    g = SparseGroup("actor", net, 0.5, exclude=("4.*",))
    assert list(g.params) == ["0.weight", "2.weight"] and not g.layers[2].sparse
    g = SparseGroup("actor", net, 0.5, include=("2.weight",))
    assert list(g.params) == ["2.weight"]
    with pytest.raises(ValueError, match="no sparsifiable"):
        SparseGroup("actor", net, 0.5, include=("nothing",))
    with pytest.raises(ValueError, match="sparsity"):
        SparseGroup("actor", net, 1.5)
    with pytest.raises(ValueError, match="one group only"):
        SparseTrainer([SparseGroup("a", net, 0.5), SparseGroup("b", net, 0.5)], torch.optim.Adam(net.parameters()))
    other = torch.optim.Adam(mlp().parameters())
    with pytest.raises(ValueError, match="optimizer does not train"):
        SparseTrainer(SparseGroup("actor", net, 0.5), other)


def run(n_steps: int, resume_at: int | None, tmp_path) -> tuple[dict, dict]:
    """SET + RigL groups in one trainer; optionally save at ``resume_at`` and continue in fresh objects."""

    def build(seed: int):
        torch.manual_seed(seed)
        a, c = mlp(seed=seed), mlp(n_in=3, n_out=1, seed=seed + 1)
        o = torch.optim.Adam(list(a.parameters()) + list(c.parameters()), lr=1e-2)
        tr = SparseTrainer([SparseGroup("actor", a, 0.85), SparseGroup("critic", c, 0.7, distribution="uniform")],
                           o, updater="set", update_schedule=UpdateSchedule(4, 40), seed=seed)
        return a, c, o, tr

    def one(a, c, o, tr, step):
        o.zero_grad()
        (a(batch(step)).pow(2).mean() + c(batch(step, 3)).pow(2).mean()).backward()
        tr.step(samples=16)

    a, c, o, tr = build(0)
    start = 0
    if resume_at is not None:
        for step in range(resume_at):
            one(a, c, o, tr, step)
        path = tmp_path / "ck.pt"
        torch.save({"a": a.state_dict(), "c": c.state_dict(), "o": o.state_dict(), "sparse": tr.state_dict()}, path)
        a, c, o, tr = build(7)  # different seed: everything must come from the checkpoint
        ck = torch.load(path, weights_only=False)
        a.load_state_dict(ck["a"])
        c.load_state_dict(ck["c"])
        o.load_state_dict(ck["o"])
        tr.load_state_dict(ck["sparse"])
        start = resume_at
    for step in range(start, n_steps):
        one(a, c, o, tr, step)
    masks = {f"{g}/{k}": m.clone() for g, ms in tr.masks.items() for k, m in ms.items()}
    weights = {**{f"a.{k}": v for k, v in a.state_dict().items()}, **{f"c.{k}": v for k, v in c.state_dict().items()}}
    return masks, {"w": weights, "flops": tr.flops.totals, "t": tr.t, "hist": tr.history}


def test_checkpoint_round_trip_resumes_same_topology(tmp_path):
    m_full, s_full = run(20, None, tmp_path)
    m_res, s_res = run(20, 9, tmp_path)  # updates at t = 4, 8 before and 12, 16, 20 after the resume
    assert m_full.keys() == m_res.keys()
    for k in m_full:
        assert torch.equal(m_full[k], m_res[k]), k
    for k in s_full["w"]:
        assert torch.equal(s_full["w"][k], s_res["w"][k]), k
    assert s_full["t"] == s_res["t"] == 20
    assert len(s_full["hist"]) == 2 * 5  # two groups x five updates
    assert s_full["hist"] == s_res["hist"]
    assert s_full["flops"] == s_res["flops"]


def test_load_rejects_mismatched_shapes():
    _, _, tr = make()
    st = tr.state_dict()
    net2 = mlp(h=16)
    tr2 = SparseTrainer(SparseGroup("actor", net2, 0.8), torch.optim.Adam(net2.parameters()))
    with pytest.raises(ValueError, match="shape"):
        tr2.load_state_dict(st)


def test_dense_grad_reduce_hook_is_used_for_ranking():
    lin = nn.Linear(6, 4, bias=False)
    opt = torch.optim.SGD(lin.parameters(), lr=0.0)
    only = torch.zeros(4, 6)
    only[3, 5] = 1.0
    calls = []

    def reduce(g):  # stands in for all_reduce: replaces the local gradient by the "global" one
        calls.append(g.shape)
        return only

    tr = SparseTrainer(SparseGroup("n", lin, 0.5, distribution="uniform"), opt, update_schedule=UpdateSchedule(1, 9),
                       drop_fraction=DropFractionSchedule("constant", 0.1, 9), dense_grad_reduce=reduce, seed=3)
    with torch.no_grad():
        lin.weight.mul_(tr.masks["n"]["weight"])
    was_active = bool(tr.masks["n"]["weight"][3, 5])
    lin(torch.randn(2, 6)).sum().backward()
    tr.step()
    assert calls == [(4, 6)]
    assert bool(tr.masks["n"]["weight"][3, 5])  # grown (or kept) where the reduced gradient is
    assert tr.nnz("n") == {"weight": 12} and (was_active or tr.history[-1]["n_grown"] == 1)


def test_tied_embedding_head_is_one_masked_layer():
    class TinyLM(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.wte = nn.Embedding(11, 8)
            self.fc = nn.Linear(8, 8)
            self.head = nn.Linear(8, 11, bias=False)
            self.head.weight = self.wte.weight  # tied, as in GPT-2 / MST

        def forward(self, idx):
            return self.head(torch.relu(self.fc(self.wte(idx))))

    lm = TinyLM()
    g = SparseGroup("lm", lm, 0.5)
    assert list(g.params) == ["fc.weight", "head.weight"]
    o = torch.optim.AdamW(lm.parameters(), lr=1e-2, weight_decay=0.1)
    tr = SparseTrainer(g, o, update_schedule=UpdateSchedule(2, 20))
    target = copy.deepcopy(lm)
    tr.attach_target(target, "lm")
    for _ in range(6):
        o.zero_grad()
        nn.functional.cross_entropy(lm(torch.randint(0, 11, (4, 5))).reshape(-1, 11),
                                    torch.randint(0, 11, (20,))).backward()
        tr.step()
        tr.check_invariants()
    m = tr.masks["lm"]["head.weight"]
    assert torch.all(lm.wte.weight[~m] == 0)  # masked embedding entries read 0
    assert tr.nnz("lm") == tr.target_nnz("lm")
    tot = tr.flops.totals
    assert tot["train_full/lm"]["dense"] > tot["train/lm"]["dense"]  # the full count adds the fc bias


def test_rescale_init_flag():
    lin = nn.Linear(40, 40)
    w = lin.weight.detach().clone()
    tr = SparseTrainer(SparseGroup("a", lin, 0.75, distribution="uniform"), torch.optim.SGD(lin.parameters(), lr=0.1),
                       rescale_init=True)
    m = tr.masks["a"]["weight"]
    assert torch.allclose(lin.weight[m], 2.0 * w[m])  # 1/sqrt(0.25)
    lin2 = nn.Linear(40, 40)
    w2 = lin2.weight.detach().clone()
    tr2 = SparseTrainer(SparseGroup("a", lin2, 0.75), torch.optim.SGD(lin2.parameters(), lr=0.1))
    assert torch.equal(lin2.weight[tr2.masks["a"]["weight"]], w2[tr2.masks["a"]["weight"]])  # default: no rescale


def test_grow_init_dist_and_step_before_update():
    lin = nn.Linear(50, 20, bias=False)
    opt = torch.optim.SGD(lin.parameters(), lr=0.1)
    tr = SparseTrainer(SparseGroup("n", lin, 0.8, distribution="uniform"), opt, updater="set",
                       update_schedule=UpdateSchedule(1, 10), grow_init="init_dist", skip_step_on_update=False)
    old = tr.masks["n"]["weight"].clone()
    lin(torch.randn(3, 50)).sum().backward()
    w_before = lin.weight.detach().clone()
    assert tr.step() is True  # the optimizer stepped, then the topology changed
    new = tr.masks["n"]["weight"]
    grown = new & ~old
    assert int(grown.sum()) == tr.history[-1]["n_grown"] > 0
    w = lin.weight.detach()
    assert torch.all(w[grown] != 0) and float(w[grown].abs().max()) <= 1 / 50**0.5  # U(±1/sqrt(fan_in))
    kept = new & old
    assert not torch.equal(w[kept], w_before[kept])  # SGD moved the kept weights in the same call
