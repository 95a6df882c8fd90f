"""Mask init, SET/RigL on hand-built 8-element tensors (E-0), eqs. (8)-(10) counts, schedules (eq. (7))."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from deeprl.sparse import (
    DropFractionSchedule,
    MagnitudeMaskInit,
    PiecewiseTarget,
    RandomMaskInit,
    RigLUpdater,
    SETUpdater,
    StaticUpdater,
    ThreePhaseTarget,
    UpdateSchedule,
    make_updater,
    update_counts,
)

W = torch.tensor([0.5, -0.1, 0.0, 0.3, 0.0, 0.0, -0.8, 0.05])
M = torch.tensor([1, 1, 0, 1, 0, 0, 1, 1], dtype=torch.bool)


def test_rigl_hand_made_drop_smallest_grow_largest_gradient():
    g = torch.tensor([0.9, 0.2, -0.7, 0.1, 0.05, 0.6, 0.3, 0.4])
    # k = floor(0.4 * 5) = 2; drop |W| smallest among active: idx 7 (0.05), idx 1 (0.1); keep {0, 3, 6}.
    # grow the 2 largest |g| outside the kept set: idx 2 (0.7) and idx 5 (0.6); idx 0 (0.9) is kept already.
    up = RigLUpdater()
    new = up.update(W, M, up.grow_score(W, M, g, torch.Generator()), 0.4)
    assert new.tolist() == [True, False, True, True, False, True, True, False]
    # a just-dropped entry competes for regrowth (eq. (10)): give idx 7 the second largest score
    g2 = g.clone()
    g2[7] = 0.65
    new2 = up.update(W, M, g2.abs(), 0.4)
    assert new2.tolist() == [True, False, True, True, False, False, True, True]
    assert int(new.sum()) == int(M.sum()) == int(new2.sum())


def test_rigl_ties_break_by_flat_index_and_2d_shape():
    w = torch.tensor([[0.2, 0.2], [0.2, 0.9]])
    score = torch.zeros(2, 2)
    new = RigLUpdater().update(w, torch.tensor([[1, 1], [1, 0]], dtype=torch.bool), score, 0.34)
    # k = floor(0.34 * 3) = 1 -> drop flat index 0 (ties on 0.2, smallest index); grow the best non-kept:
    # scores tie at 0 -> smallest flat index among {0, 3} = 0 (dropped and regrown).
    assert new.tolist() == [[True, True], [True, False]]


def test_set_hand_made_drop_by_magnitude_grow_at_random():
    up = SETUpdater()
    rng = torch.Generator().manual_seed(3)
    score = up.grow_score(W, M, None, rng)
    u = torch.rand(8, generator=torch.Generator().manual_seed(3))
    assert torch.equal(score, u)
    new = up.update(W, M, score, 0.4)
    kept = {0, 3, 6}
    cand = [i for i in range(8) if i not in kept]
    grown = sorted(sorted(cand, key=lambda i: -float(u[i]))[:2])
    assert set(np.flatnonzero(new.numpy())) == kept | set(grown)


def test_set_grows_uniformly_not_by_gradient():
    up = SETUpdater()
    w = torch.ones(1000)
    w[:500] = 0.0
    m = torch.zeros(1000, dtype=torch.bool)
    m[500:] = True
    rng = torch.Generator().manual_seed(0)
    hits = torch.zeros(1000)
    for _ in range(200):
        hits += up.update(w, m, up.grow_score(w, m, None, rng), 0.0, n_target=600).float()
    # 100 of the 500 inactive entries are grown each time, uniformly: ~40 hits each
    assert hits[:500].mean() == pytest.approx(40, rel=0.05)
    assert hits[:500].std() < 10


def test_rigl_requires_dense_gradient():
    with pytest.raises(RuntimeError, match="dense gradient"):
        RigLUpdater().grow_score(W, M, None, torch.Generator())


@pytest.mark.parametrize("seed", range(20))
def test_moving_target_counts_invariants(seed):
    """MST spec eqs. (8)-(10): |M'| = m*, 0 <= n_prune <= n, 0 <= n_grow <= N - n + n_prune."""
    rs = np.random.default_rng(seed)
    big_n = int(rs.integers(1, 400))
    n = int(rs.integers(0, big_n + 1))
    m_star = int(rs.integers(0, big_n + 1))
    zeta = float(rs.uniform(0, 1))
    c = update_counts(n, big_n, zeta, m_star)
    assert 0 <= c.n_prune <= n
    assert 0 <= c.n_grow <= big_n - n + c.n_prune
    assert n - c.n_prune + c.n_grow == m_star
    w = torch.tensor(rs.normal(size=big_n), dtype=torch.float32)
    mask = torch.zeros(big_n, dtype=torch.bool)
    mask[torch.tensor(rs.permutation(big_n)[:n], dtype=torch.long)] = True
    score = torch.tensor(rs.uniform(size=big_n), dtype=torch.float32)
    for up in (RigLUpdater(), SETUpdater(), StaticUpdater()):
        assert int(up.update(w, mask, score, zeta, n_target=m_star).sum()) == m_star


def test_plain_rigl_swap_count_and_dense_target():
    c = update_counts(100, 1000, 0.3)
    assert (c.n_prune, c.n_grow) == (30, 30)  # eq. (8): k = floor(zeta * nnz)
    c = update_counts(100, 1000, 0.3, 1000)
    assert (c.n_prune, c.n_grow) == (0, 900)
    assert StaticUpdater().update(W, M, torch.rand(8), 0.5).tolist() == M.tolist()  # static ignores zeta


def test_mask_inits_exact_counts():
    w = {"a": torch.randn(30, 20), "b": torch.randn(5, 7)}
    rng = torch.Generator().manual_seed(0)
    masks = RandomMaskInit()(w, {"a": 0.1, "b": 1.0}, rng)
    assert int(masks["a"].sum()) == 60 and bool(masks["b"].all())
    mag = MagnitudeMaskInit()(w, {"a": 0.1, "b": 0.5}, rng)
    kept = w["a"].abs()[mag["a"]]
    assert int(mag["a"].sum()) == 60 and float(kept.min()) >= float(w["a"].abs()[~mag["a"]].max())
    assert int(mag["b"].sum()) == round(0.5 * 35)


def test_cosine_drop_fraction_formula():
    sch = DropFractionSchedule("cosine", zeta0=0.5, end=1000)
    for t in (0, 1, 250, 500, 999):
        assert sch(t) == pytest.approx(0.25 * (1 + math.cos(math.pi * t / 1000)))  # eq. (7)
    assert sch(1000) == 0.0 and sch(5000) == 0.0
    assert DropFractionSchedule("constant", 0.3, 100)(50) == 0.3
    assert DropFractionSchedule("linear", 0.3, 100)(25) == pytest.approx(0.225)
    restart = DropFractionSchedule("cosine", 0.3, 1000, boundaries=(100, 750))  # MST spec eq. (4)
    assert restart(100) == pytest.approx(0.3)
    assert restart(425) == pytest.approx(0.15)
    assert restart(750 + 125) == pytest.approx(0.15)
    with pytest.raises(ValueError, match="kind"):
        DropFractionSchedule("exp")


def test_update_schedule():
    s = UpdateSchedule(interval=10, end=35)
    assert [t for t in range(0, 60) if s(t)] == [10, 20, 30]
    assert s.n_updates(100) == 3
    assert [t for t in range(0, 30) if UpdateSchedule(10, None, start=5)(t)] == [5, 15, 25]
    with pytest.raises(ValueError, match="interval"):
        UpdateSchedule(0)


def test_three_phase_target_boundaries():
    s = ThreePhaseTarget(total=1000, s0=0.0, s_ultra=0.9, s_final=0.5, phi_w=0.1, phi_r=0.75)
    assert s(0) == 0.0 and s(50) == pytest.approx(0.45) and s(100) == 0.9 and s(749) == 0.9
    assert s(750) == 0.9 and s(875) == pytest.approx(0.7) and s(1000) == pytest.approx(0.5)
    cubic = ThreePhaseTarget(total=1000, shape="cubic")
    assert cubic(50) == pytest.approx(0.9 * (1 - 0.5**3))
    p = PiecewiseTarget({0: 0.5, 100: 0.8})
    assert (p(0), p(99), p(100), p(10**6)) == (0.5, 0.5, 0.8, 0.8)
    assert make_updater("set").name == "set"


def test_rigl_drop_and_grow_variants():
    g = torch.tensor([0.9, 0.2, -0.7, 0.1, 0.05, 0.6, 0.3, 0.4])
    # MEST drop |W| + λ|g| (λ=1): active scores 1.4, 0.3, 0.4, 1.1, 0.45 -> drop idx 1 and 3
    up = RigLUpdater(drop="mest")
    new = up.update(W, M, g.abs(), 0.4, score_drop=up.drop_score(W, M, g))
    assert set(np.flatnonzero(new.numpy())) == {0, 6, 7} | {2, 5}
    # |W|/|g|: 0.556, 0.5, 3.0, 2.667, 0.125 -> drop idx 7 and 1; grow 2 and 5
    up = RigLUpdater(drop="ratio")
    new = up.update(W, M, g.abs(), 0.4, score_drop=up.drop_score(W, M, g))
    assert set(np.flatnonzero(new.numpy())) == {0, 3, 6} | {2, 5}
    # mixed grow 3:1 -> with n_grow = 2: ceil(1.5) = 2 by gradient, 0 random; n_grow = 4 -> 3 + 1
    up = RigLUpdater(grow="mixed")
    rng = torch.Generator().manual_seed(0)
    w = torch.arange(1.0, 21.0)
    m = torch.zeros(20, dtype=torch.bool)
    m[10:] = True
    score = torch.zeros(20)
    score[:3] = torch.tensor([3.0, 2.0, 1.0])
    new = up.update(w, m, score, 0.4, rng)  # drop 4 smallest active (idx 10..13), grow 4
    assert int(new.sum()) == 10 and bool(new[:3].all()) and bool(new[14:].all())
    assert int(new[3:14].sum()) == 1  # the random quarter
    with pytest.raises(ValueError, match="drop"):
        RigLUpdater(drop="x")
