"""Soft Mellowmax (spec eqs. 31-33): hand-computed values, limits, bound and monotonicity."""

from __future__ import annotations

import math

import pytest
import torch

from deeprl.mast.soft_mellowmax import mellowmax, soft_mellowmax

Q = [1.0, 2.0, 3.0]


def test_hand_computed_values() -> None:
    q = torch.tensor(Q, dtype=torch.float64)
    # eq. (31): (1/w) log( mean exp(w q) ), w = 2
    mm = math.log((math.exp(2) + math.exp(4) + math.exp(6)) / 3) / 2
    assert mellowmax(q, 2.0).item() == pytest.approx(mm, rel=1e-12)
    # eq. (32): pi_alpha = softmax(alpha q); (1/w) log sum pi exp(w q), alpha = 1, w = 2
    z = sum(math.exp(v) for v in Q)
    sm = math.log(sum(math.exp(v) / z * math.exp(2 * v) for v in Q)) / 2
    assert soft_mellowmax(q, 2.0, 1.0).item() == pytest.approx(sm, rel=1e-12)
    # by hand: (1/2)[log(e^3+e^6+e^9) - log(e+e^2+e^3)] = (9.050950 - 3.407606)/2
    assert sm == pytest.approx(2.821672, abs=1e-5)


def test_limits_and_bound() -> None:
    torch.manual_seed(0)
    q = torch.randn(50, 6, dtype=torch.float64)
    mx = q.max(-1).values
    # alpha = 0 -> mellowmax
    torch.testing.assert_close(soft_mellowmax(q, 3.0, 0.0), mellowmax(q, 3.0))
    # omega -> inf or alpha -> inf -> max
    torch.testing.assert_close(soft_mellowmax(q, 1e4, 1.0), mx, atol=1e-3, rtol=0)
    torch.testing.assert_close(soft_mellowmax(q, 1.0, 1e4), mx, atol=1e-3, rtol=0)
    # sm <= max always, and sm >= mellowmax for alpha >= 0 (pi_alpha puts more weight on large q)
    for w, a in [(0.5, 0.5), (10.0, 10.0), (5.0, 0.0), (1.0, 100.0)]:
        sm = soft_mellowmax(q, w, a)
        assert bool((sm <= mx + 1e-12).all())
        assert bool((sm >= mellowmax(q, w) - 1e-12).all())


def test_monotone_in_omega_and_alpha() -> None:
    # d sm / d alpha = (E_{alpha+omega}[q] - E_alpha[q]) / omega >= 0 (tilted means increase), and
    # sm = K(omega)/omega with K the convex cumulant function of q under pi_alpha, K(0) = 0: nondecreasing.
    torch.manual_seed(1)
    q = torch.randn(100, 5, dtype=torch.float64)
    omegas = [0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 50.0]
    for a in (0.0, 1.0, 10.0):
        vals = torch.stack([soft_mellowmax(q, w, a) for w in omegas])
        assert bool((vals.diff(dim=0) >= -1e-12).all())
    vals = torch.stack([soft_mellowmax(q, 5.0, a) for a in (0.0, 0.5, 1.0, 5.0, 20.0)])
    assert bool((vals.diff(dim=0) >= -1e-12).all())
    # hand-computed: q = [1, 2, 3], alpha = 1: w = 1 -> log(e^2+e^4+e^6) - log(e+e^2+e^3) = 2.683... < w = 2
    qq = torch.tensor(Q, dtype=torch.float64)
    w1 = math.log(math.exp(2) + math.exp(4) + math.exp(6)) - math.log(math.exp(1) + math.exp(2) + math.exp(3))
    assert soft_mellowmax(qq, 1.0, 1.0).item() == pytest.approx(w1, rel=1e-12)
    assert w1 < 2.821672 < 3.0


def test_not_monotone_in_a_single_action_value() -> None:
    # Unlike max and mellowmax, sm is not nondecreasing in each q_a: for q = [0, 1], w = alpha = 1,
    # d sm / d q_0 = 2 e^0/(1 + e^2) - e^0/(1 + e) = 0.23841 - 0.26894 = -0.03053 (by hand).
    q = torch.tensor([0.0, 1.0], dtype=torch.float64, requires_grad=True)
    soft_mellowmax(q, 1.0, 1.0).backward()
    assert q.grad[0].item() == pytest.approx(2 / (1 + math.e**2) - 1 / (1 + math.e), rel=1e-10)
    assert q.grad[0].item() < 0 and q.grad[1].item() > 0
    # mellowmax (alpha = 0) is monotone: its gradient is a softmax
    q2 = torch.randn(50, 4, dtype=torch.float64, requires_grad=True)
    mellowmax(q2, 3.0).sum().backward()
    assert bool((q2.grad > 0).all())


def test_unavailable_actions_are_excluded() -> None:
    q = torch.tensor([[1.0, 50.0, 2.0, 3.0]], dtype=torch.float64)
    avail = torch.tensor([[1, 0, 1, 1]])
    sub = torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.float64)
    torch.testing.assert_close(soft_mellowmax(q, 2.0, 1.0, avail), soft_mellowmax(sub, 2.0, 1.0))
    torch.testing.assert_close(mellowmax(q, 2.0, avail), mellowmax(sub, 2.0))


def test_bad_parameters() -> None:
    with pytest.raises(ValueError, match="omega"):
        soft_mellowmax(torch.zeros(3), 0.0, 1.0)
    with pytest.raises(ValueError, match="alpha"):
        soft_mellowmax(torch.zeros(3), 1.0, -1.0)
