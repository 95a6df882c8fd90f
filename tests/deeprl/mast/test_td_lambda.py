"""TD(lambda) targets (spec eq. 35) against a hand-written recursion; the hybrid schedule (eq. 36)."""

from __future__ import annotations

import pytest
import torch

from deeprl.mast.td_lambda import HybridTargetSchedule, episode_end_as_terminal, td_lambda_targets


def _reference(r: list[float], term: list[float], length: int, z: list[float], g: float, lam: float) -> list[float]:
    """Plain-Python eq. (35) for one episode of ``length`` steps (no padding)."""
    out = [0.0] * len(r)
    nxt = z[length]  # G_L := z_L
    for t in range(length - 1, -1, -1):
        cont = nxt if t + 1 < length else z[t + 1]
        out[t] = r[t] + g * (1 - term[t]) * ((1 - lam) * z[t + 1] + lam * cont)
        nxt = out[t]
    return out


def test_hand_computed_two_episodes_with_truncation_and_termination() -> None:
    g, lam = 0.9, 0.5
    # episode 0: 3 steps, then padding; ends by *termination* (z after it must not count)
    # episode 1: 5 steps, ends by *truncation* (time limit): bootstraps from z_5
    r = torch.tensor([[1.0, 0.0, 2.0, 0.0, 0.0], [0.5, 0.0, 0.0, 1.0, 0.0]], dtype=torch.float64)
    term = torch.tensor([[0, 0, 1, 0, 0], [0, 0, 0, 0, 0]], dtype=torch.float64)
    filled = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.float64)
    z = torch.tensor([[9.0, 1.0, 2.0, 100.0, 7.0, 7.0], [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]], dtype=torch.float64)
    y = td_lambda_targets(r, term, filled, z, g, lam)
    # by hand, episode 0: G2 = 2 (terminal); G1 = 0 + .9(.5*z2 + .5*G2) = .9*(1 + 1) = 1.8;
    # G0 = 1 + .9(.5*z1 + .5*G1) = 1 + .9*(.5 + .9) = 2.26
    torch.testing.assert_close(y[0], torch.tensor([2.26, 1.8, 2.0, 0.0, 0.0], dtype=torch.float64))
    # episode 1: G4 = 0 + .9*z5 = 4.5; G3 = 1 + .9(.5*4 + .5*4.5) = 4.825; G2 = .9(.5*3 + .5*4.825) = 3.52125
    # G1 = .9(.5*2 + .5*3.52125) = 2.4845625; G0 = .5 + .9(.5*1 + .5*2.4845625) = 2.068053125
    torch.testing.assert_close(y[1], torch.tensor([2.068053125, 2.4845625, 3.52125, 4.825, 4.5],
                                                  dtype=torch.float64))
    z_pad = z.clone()
    z_pad[0, 4:] = float("nan")  # values of padded states must not leak into the targets
    torch.testing.assert_close(td_lambda_targets(r, term, filled, z_pad, g, lam), y)
    for b, length in ((0, 3), (1, 5)):
        ref = _reference(r[b].tolist(), term[b].tolist(), length, z[b].tolist(), g, lam)
        torch.testing.assert_close(y[b, :length], torch.tensor(ref[:length], dtype=torch.float64))


def test_lambda_zero_is_one_step_and_lambda_one_is_monte_carlo_plus_bootstrap() -> None:
    torch.manual_seed(0)
    b, t_len, g = 4, 7, 0.95
    r = torch.randn(b, t_len, dtype=torch.float64)
    z = torch.randn(b, t_len + 1, dtype=torch.float64)
    term = torch.zeros(b, t_len, dtype=torch.float64)
    filled = torch.ones(b, t_len, dtype=torch.float64)
    one = td_lambda_targets(r, term, filled, z, g, 0.0)
    torch.testing.assert_close(one, r + g * z[:, 1:])
    mc = td_lambda_targets(r, term, filled, z, g, 1.0)
    disc = g ** torch.arange(t_len, dtype=torch.float64)
    expect0 = (r * disc).sum(1) + g**t_len * z[:, -1]
    torch.testing.assert_close(mc[:, 0], expect0)


def test_hybrid_schedule_orders() -> None:
    assert [HybridTargetSchedule("onestep_first", 10, 0.6)(t) for t in (0, 9, 10, 50)] == [0, 0, 0.6, 0.6]
    assert [HybridTargetSchedule("lambda_first", 10, 0.6)(t) for t in (0, 9, 10)] == [0.6, 0.6, 0.0]
    assert HybridTargetSchedule("lambda_only", 10, 0.6)(0) == 0.6
    assert HybridTargetSchedule("onestep_only", 10, 0.6)(99) == 0.0
    with pytest.raises(ValueError, match="hybrid_order"):
        HybridTargetSchedule("nope", 1, 0.5)
    with pytest.raises(ValueError, match="z must have shape"):
        td_lambda_targets(torch.zeros(1, 3), torch.zeros(1, 3), torch.ones(1, 3), torch.zeros(1, 3), 0.9, 0.5)


def test_episode_end_as_terminal_cuts_the_time_limit_bootstrap() -> None:
    """``time_limit_bootstrap=False``: the last filled step of every episode becomes terminal, so a
    truncated episode's last target is its reward alone; padding and earlier steps are untouched."""
    term = torch.tensor([[0, 0, 1, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]], dtype=torch.float64)
    filled = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 1, 0, 0, 0]], dtype=torch.float64)
    cut = episode_end_as_terminal(term, filled)
    torch.testing.assert_close(cut, torch.tensor([[0, 0, 1, 0, 0], [0, 0, 0, 0, 1], [0, 1, 0, 0, 0]],
                                                 dtype=torch.float64))
    r = torch.tensor([[1.0, 0.0, 2.0, 0.0, 0.0], [0.5, 0.0, 0.0, 1.0, 0.0], [1.0, 2.0, 0.0, 0.0, 0.0]],
                     dtype=torch.float64)
    z = torch.arange(18, dtype=torch.float64).view(3, 6) + 1.0
    y = td_lambda_targets(r, cut, filled, z, 0.9, 0.0)
    # one-step targets: the truncated episode's last step (t = 4) is r_4 = 0 (no 0.9 * z_5 = 10.8)
    torch.testing.assert_close(y[1], torch.tensor([0.5 + 0.9 * 8, 0.9 * 9, 0.9 * 10, 1.0 + 0.9 * 11, 0.0],
                                                  dtype=torch.float64))
    torch.testing.assert_close(y[2], torch.tensor([1.0 + 0.9 * 14, 2.0, 0.0, 0.0, 0.0], dtype=torch.float64))
