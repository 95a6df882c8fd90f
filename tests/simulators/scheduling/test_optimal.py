"""Model-based baselines (RSD4 spec §3): LP = Lagrangian DP = value iteration, closed forms, and the
optimum bounds every heuristic."""

from __future__ import annotations

import numpy as np
import pytest

from simulators.scheduling import make_instance
from simulators.scheduling.evaluation import evaluate, tune_edf, tuned_uniform
from simulators.scheduling.heuristics import (
    DriftPlusPenalty,
    EDFPolicy,
    _blind_dpp_energy,
    golden_section_max,
)
from simulators.scheduling.optimal import (
    LPPolicy,
    PacketTablePolicy,
    closed_form_energy,
    open_loop_totals,
    optimal_full_info,
    packet_dp,
    relative_value_iteration,
    solve_lp,
    solve_open_loop,
    uniform_energy_for_budget,
)

LEVELS = np.linspace(0.0, 1.0, 5)


@pytest.fixture(scope="module", params=[(3, 0.5), (11, 0.0)], ids=["seed3-rho0.5", "seed11-rho0"])
def tiny(request):
    seed, rho = request.param
    inst = make_instance(seed, "tiny", n_channels=3, rho=rho)
    return inst, solve_lp(inst, LEVELS, cap=1)


def test_closed_form_energy_matches_numeric_argmax():
    rng = np.random.default_rng(0)
    grid = np.linspace(0, 1, 200_001)
    for _ in range(50):
        gain, kappa, lam = rng.uniform(0.1, 5), rng.uniform(0.5, 8), rng.uniform(0.0, 3)
        e = closed_form_energy(np.array([gain]), lam, np.array([kappa]), 1.0)[0]
        f = gain * np.tanh(grid / kappa) - lam * grid
        assert gain * np.tanh(e / kappa) - lam * e >= f.max() - 1e-9  # eq. (24) / (28) is the argmax
        assert abs(e - grid[np.argmax(f)]) < 1e-4 or f.max() - f.min() < 1e-9


def test_lp_equals_lagrangian_dp_on_the_grid(tiny):
    inst, lp = tiny
    dp = optimal_full_info(inst, LEVELS)
    assert lp.value == pytest.approx(dp.throughput, abs=1e-6)
    assert lp.energy <= inst.budget + 1e-7 and dp.energy <= inst.budget + 1e-9
    if dp.meta["binding"]:
        assert lp.lam_star == pytest.approx(dp.lam_star, rel=1e-3, abs=1e-6)
    # the continuous-energy optimum is at least the grid optimum
    assert optimal_full_info(inst).throughput >= dp.throughput - 1e-12


def test_value_iteration_matches_packet_dp(tiny):
    inst, lp = tiny
    for lam in (0.0, 0.1, lp.lam_star, 0.4):
        gain = sum(relative_value_iteration(m, lam)[0] for m in lp.models)
        pol = packet_dp(inst, lam, LEVELS)
        assert gain == pytest.approx(pol.throughput - lam * pol.energy_rate, abs=1e-8)


def test_packet_dp_totals_match_simulation(tiny):
    inst, lp = tiny
    sol = optimal_full_info(inst)
    r = evaluate(PacketTablePolicy(sol), inst, episodes=60, seed=1000)
    assert abs(r.throughput - sol.throughput) < 4 * r.throughput_se + 0.01
    assert abs(r.energy - sol.energy) < 4 * r.energy_se + 0.02
    r_lp = evaluate(LPPolicy(lp), inst, episodes=30, seed=2000)
    assert abs(r_lp.throughput - lp.value) < 4 * r_lp.throughput_se + 0.01


def test_optimum_bounds_every_heuristic(tiny):
    """LP and V_full are >= every heuristic; simulated policies are checked through the Lagrangian
    bound TP(pi) <= V + lam* (E(pi) - E_b), valid whatever energy pi spends (weak duality)."""
    inst, lp = tiny
    full = optimal_full_info(inst)
    ebar, tp_u, en_u = uniform_energy_for_budget(inst)
    assert en_u == pytest.approx(inst.budget, rel=1e-6)
    assert tp_u <= full.throughput and tp_u <= lp.value + 1e-9
    heuristics = [tuned_uniform(inst), tune_edf(inst, grid=[0.1, 0.2, 0.5], episodes=3, seed=50)[0],
                  DriftPlusPenalty(10.0, inst.budget), DriftPlusPenalty(10.0, inst.budget, channel="blind"),
                  EDFPolicy(0.1, inst.budget)]
    for pol in heuristics:
        r = evaluate(pol, inst, episodes=20, seed=300)
        slack = 4 * (r.throughput_se + full.lam_star * r.energy_se)
        assert r.throughput <= full.lagrangian_bound(r.energy) + slack, pol.name
        assert r.throughput <= lp.value + lp.lam_star * (r.energy - inst.budget) + slack + (
            full.throughput - lp.value), pol.name
        if r.energy <= inst.budget:
            assert r.throughput <= lp.value + slack, pol.name


def test_open_loop_reference_between_uniform_and_full(tiny):
    inst, _ = tiny
    full = optimal_full_info(inst)
    op = solve_open_loop(inst, starts=3, rel_tol=1e-6)
    _, tp_u, _ = uniform_energy_for_budget(inst)
    assert op.energy <= inst.budget * (1 + 1e-6)
    assert tp_u - 1e-6 <= op.throughput <= full.throughput + 1e-9
    # eq. (26) with constant energies equals the closed-loop recursion with a channel-blind table
    e = np.full((inst.n_users, inst.tau_max + 1), 0.3)
    tp, en = open_loop_totals(inst, e)
    from simulators.scheduling.optimal import _packet_totals

    _, _, tp2, en2 = _packet_totals(inst, np.repeat(e[:, :, None], inst.n_channels, 2), inst.stationary_channel)
    assert np.allclose(tp, tp2) and np.allclose(en, en2)


def test_packet_dp_scales_to_the_code_instance():
    inst = make_instance(0, "code", n_users=20)
    sol = optimal_full_info(inst)
    assert sol.meta["binding"] and sol.energy == pytest.approx(inst.budget, rel=1e-6)
    assert 0 < sol.lam_star < inst.lam_max
    # energy is non-increasing in lambda (the bisection's premise)
    lams = np.linspace(0, inst.lam_max, 12)
    en = [packet_dp(inst, lam).energy_rate for lam in lams]
    assert all(a >= b - 1e-12 for a, b in zip(en, en[1:]))


def test_edf_and_dpp_respect_the_budget():
    inst = make_instance(4, "bench")
    env_r = evaluate(EDFPolicy(0.5, inst.budget), inst, episodes=5, seed=0)
    assert env_r.energy <= inst.budget + 1e-9  # EDF never spends more than E_b in a slot
    dpp = DriftPlusPenalty(1.0, inst.budget)
    r = evaluate(dpp, inst, episodes=40, seed=0)  # 4000 slots, Z carried across episodes
    assert r.energy <= 1.05 * inst.budget


def test_golden_section_matches_grid_argmax():
    rng = np.random.default_rng(1)
    pi = rng.dirichlet(np.ones(4), size=6)
    kap = rng.uniform(1, 8, size=(6, 4))
    vb, Z = rng.uniform(1, 50, 6), rng.uniform(0.1, 10, 6)

    def f(e):
        return vb * (pi * np.tanh(e[:, None] / kap)).sum(axis=1) - Z * e

    e = golden_section_max(f, np.zeros(6), np.ones(6))
    grid = np.linspace(0, 1, 10_001)
    vals = np.stack([f(np.full(6, g)) for g in grid])
    assert np.all(f(e) >= vals.max(axis=0) - 1e-9)
    # the Numba version DPP uses (same Z for all users)
    e2 = _blind_dpp_energy(vb, 2.0, pi, kap, 1.0, 60)
    def f2(e):
        return vb * (pi * np.tanh(e[:, None] / kap)).sum(axis=1) - 2.0 * e
    vals2 = np.stack([f2(np.full(6, g)) for g in grid])
    assert np.all(f2(e2) >= vals2.max(axis=0) - 1e-9)


def test_lp_refuses_oversized_instances():
    inst = make_instance(0, "code")
    with pytest.raises(ValueError, match="max_pairs"):
        solve_lp(inst, 11, cap=3)
