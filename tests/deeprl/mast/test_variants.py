"""WQMIX weights (spec eq. 29) and the RES softmax target (eq. 30) against explicit loops."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deeprl.mast.config import MastConfig
from deeprl.mast.learner import QLearner

INFO = {"n_agents": 2, "n_actions": 3, "obs_dim": 4, "state_dim": 5, "episode_limit": 4}


def test_res_target_equals_explicit_counterfactual_softmax() -> None:
    torch.manual_seed(0)
    cfg = MastConfig.preset("dense", algorithm="res", hidden=8, mixer_embed=4, hypernet_embed=8, res_beta=0.7)
    lr = QLearner(cfg, INFO, 10)
    for p in lr.targets["mixer"].parameters():  # make the target mixer differ from the online one
        torch.nn.init.normal_(p)
    b, t1, n, a = 2, 3, 2, 3
    mac = torch.randn(b, t1, n, a)
    t_out = torch.randn(b, t1, n, a)
    avail = torch.ones(b, t1, n, a, dtype=torch.bool)
    avail[0, 1, 1, 2] = False
    states = torch.randn(b, t1, 5)
    greedy = mac.masked_fill(~avail, -1e10).argmax(-1)
    t_util = t_out.gather(-1, greedy.unsqueeze(-1)).squeeze(-1)
    z = lr._res_z(mac, t_out, t_util, greedy, avail, states)
    for i in range(b):
        for t in range(t1):
            qs_on, qs_tg = [], []
            for ag in range(n):
                for u in range(a):
                    if not avail[i, t, ag, u]:
                        continue
                    on = mac[i, t].gather(-1, greedy[i, t].unsqueeze(-1)).squeeze(-1).clone()
                    tg = t_util[i, t].clone()
                    on[ag], tg[ag] = mac[i, t, ag, u], t_out[i, t, ag, u]
                    qs_on.append(lr.nets["mixer"](on.view(1, n), states[i, t].view(1, 5)).item())
                    qs_tg.append(lr.targets["mixer"](tg.view(1, n), states[i, t].view(1, 5)).item())
            w = torch.softmax(0.7 * torch.tensor(qs_on), 0)
            assert z[i, t].item() == pytest.approx(float((w * torch.tensor(qs_tg)).sum()), rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("variant,alpha", [("ow", 0.5), ("cw", 0.1)])
def test_wqmix_weights(variant: str, alpha: float) -> None:
    cfg = MastConfig.preset("dense", algorithm="wqmix", wqmix_variant=variant, wqmix_alpha=alpha, hidden=8,
                            mixer_embed=4, hypernet_embed=8, central_embed=8)
    lr = QLearner(cfg, INFO, 10)
    td = torch.tensor([[-1.0, 0.5, 0.0]])
    actions = torch.tensor([[[0, 1], [2, 2], [1, 0]]])
    greedy = torch.tensor([[[0, 1], [2, 1], [0, 0], [0, 0]]])
    y = torch.tensor([[0.0, 3.0, -1.0]])
    central = torch.tensor([[1.0, 2.0, 0.0, 0.0]])
    w = lr._wqmix_weights(td, actions, {"greedy": greedy, "central_at_greedy": central}, y)
    if variant == "ow":  # 1 where Q_tot - y < 0 (underestimates), alpha elsewhere
        expect = [1.0, alpha, alpha]
    else:  # 1 where u = u-bar (t=0) or y > Q-hat*'(s, u-bar) (t=1: 3 > 2), alpha elsewhere
        expect = [1.0, 1.0, alpha]
    np.testing.assert_allclose(w[0].numpy(), expect)
