"""Sparsity-variation schedule at its phase boundaries (eqs. (4)–(7)) and FLOPs (eqs. (16)–(19))."""

from __future__ import annotations

import math

import pytest

from deeprl.mst.attention import HSAConfig, attention_density
from deeprl.mst.configs import get_config
from deeprl.mst.flops import (
    FlopsAccount,
    dense_flops_per_token,
    flops_per_token,
    linear_shapes,
    predicted_ratio,
)
from deeprl.mst.schedule import drop_fraction, learning_rate, phase_bounds, phase_name, sparsity_target
from deeprl.sparse import ErdosRenyi

T = 3000


def test_three_phase_target_at_phase_boundaries() -> None:
    s = sparsity_target("mst", T)  # S_0 = 0, S_u = 0.9, S_f = 0.5, φ_w = 0.1, φ_r = 0.75
    t_w, t_r = phase_bounds(T, 0.10, 0.75)
    assert (t_w, t_r) == (300, 2250)
    assert s(0) == 0.0                                          # (5) at t = 0
    assert s(150) == pytest.approx(0.45)                        # (5) linear, half-way
    assert s(t_w - 1) == pytest.approx(0.9 * (t_w - 1) / t_w)   # (5) just before t_w
    assert s(t_w) == 0.9 and s(t_r - 1) == 0.9                  # (6) on [t_w, t_r)
    assert s(t_r) == pytest.approx(0.9)                         # (7) starts at S_u
    assert s((t_r + T) / 2) == pytest.approx(0.7)               # (7) half-way
    assert s(T) == pytest.approx(0.5)                           # (7) ends at S_f
    assert [phase_name(t, t_w, t_r) for t in (0, t_w - 1, t_w, t_r - 1, t_r)] == [
        "warmup", "warmup", "ultra", "ultra", "restoration"]
    cubic = sparsity_target("mst", T, shape="cubic")
    assert cubic(150) == pytest.approx(0.9 * (1 - 0.5**3))      # g(x) = 1 − (1 − x)³
    assert sparsity_target("mst", T, sv=False)(10) == 0.9       # "no SV" ablation
    assert sparsity_target("rigl", T, sparsity=0.88)(2999) == 0.88
    assert sparsity_target("dense", T) is None
    with pytest.raises(ValueError, match="method"):
        sparsity_target("prune", T)


def test_drop_fraction_restarts_at_each_phase() -> None:
    f = drop_fraction("mst", 0.3, T, (300, 2250))
    for s_p, e_p in ((0, 300), (300, 2250), (2250, 3000)):
        assert f(s_p) == pytest.approx(0.3)                                 # (4) at s_p: ζ_p
        mid = (s_p + e_p) / 2
        assert f(mid) == pytest.approx(0.15)                                # half-way: ζ/2
        t = s_p + 0.25 * (e_p - s_p)
        assert f(t) == pytest.approx(0.15 * (1 + math.cos(math.pi * 0.25)))
    assert f(T) == 0.0
    g = drop_fraction("rigl", 0.3, T, (300, 2250))                          # RigL-only: one cosine
    assert g(300) == pytest.approx(0.15 * (1 + math.cos(math.pi * 0.1)))


def test_learning_rate_schedule() -> None:
    assert learning_rate(0, 1e-3, 1e-4, 100, T) == pytest.approx(1e-3 / 101)
    assert learning_rate(100, 1e-3, 1e-4, 100, T) == pytest.approx(1e-3)
    assert learning_rate(T - 1, 1e-3, 1e-4, 100, T) == pytest.approx(1e-4)


def test_flops_hand_count_tiny() -> None:
    cfg = get_config("tiny")[0].with_vocab(60)
    L, d, Tc, V = 2, 32, 32, 60
    n_block = 3 * d * d + d * d + 4 * d * d + 4 * d * d          # c_attn, attn.c_proj, c_fc, mlp.c_proj
    assert n_block == 12 * 32 * 32
    n_lin = L * n_block + V * d                                  # eq. (1): 24,576 + 1,920
    assert sum(a * b for a, b in linear_shapes(cfg).values()) == n_lin == 26_496
    attn = 12 * L * d * Tc                                       # QKᵀ and AV, fwd + bwd: 24,576
    assert dense_flops_per_token(cfg) == 6 * n_lin + attn == 183_552
    # Half of every block weight and the whole head active, local attention (α = 0.432 at w = 8):
    rho = {k: 0.5 for k in linear_shapes(cfg) if k.startswith("h.")}
    alpha = attention_density("local", 32, 8)
    assert alpha == pytest.approx(228 / 528)                     # 36 + 24·8 of T(T+1)/2 keys
    expect = 6 * (0.5 * L * n_block + V * d) + attn * 228 / 528
    assert flops_per_token(cfg, rho, alpha) == pytest.approx(expect)
    acc = FlopsAccount(cfg)
    acc.add(128, rho, alpha, update=False)
    acc.add(128, rho, 1.0, update=True)                          # + 2·Σ(1 − ρ)N of eq. (17)
    f_upd = 6 * (0.5 * L * n_block + V * d) + attn + 2 * 0.5 * L * n_block
    assert acc.total == pytest.approx(128 * (expect + f_upd))
    assert acc.total_dense == pytest.approx(256 * 183_552)
    assert acc.ratio == pytest.approx((expect + f_upd) / (2 * 183_552))
    nohead = (6 * 0.5 * L * n_block + attn * 228 / 528 + 6 * 0.5 * L * n_block + attn + L * n_block)
    assert acc.ratio_nohead == pytest.approx(nohead / (2 * (6 * L * n_block + attn)))


# MST spec §5 table: (config, ΔT, with HSA, no HSA, S_f = 0), V = 80 for the char configs.
TABLE = [("gpt2", 0.240, 0.305, 0.293), ("shakespeare-small", 0.234, 0.282, 0.288),
         ("cpu", 0.254, 0.320, 0.305), ("tiny", 0.341, 0.382, 0.366)]


@pytest.mark.parametrize("name,with_hsa,no_hsa,sf0", TABLE)
def test_predicted_ratios_reproduce_the_spec_table(name: str, with_hsa: float, no_hsa: float, sf0: float) -> None:
    mcfg, rec = get_config(name)
    if mcfg.vocab_size is None:
        mcfg = mcfg.with_vocab(80)
    shapes = linear_shapes(mcfg)
    er = ErdosRenyi()

    def dens(s: float) -> dict[str, float]:
        return er.densities(shapes, s)

    n = rec.iterations
    t_w, t_r = phase_bounds(n, 0.10, 0.75)
    hsa = HSAConfig("sparse", rec.hsa_w or mcfg.block_size // 8, (t_w, t_r))
    got = [predicted_ratio(mcfg, n, rec.delta_t, sparsity_target("mst", n), dens, hsa),
           predicted_ratio(mcfg, n, rec.delta_t, sparsity_target("mst", n), dens, None),
           predicted_ratio(mcfg, n, rec.delta_t, sparsity_target("mst", n, sf=0.0), dens, hsa)]
    assert got == pytest.approx([with_hsa, no_hsa, sf0], abs=0.005)


def test_rigl_constant_matched_to_mst_ratio() -> None:
    # §7 run 3: S ≈ 0.88 gives the same ratio as MST on `cpu` (0.254).
    mcfg = get_config("cpu")[0].with_vocab(80)
    shapes = linear_shapes(mcfg)
    r = predicted_ratio(mcfg, 3000, 25, lambda t: 0.88, lambda s: ErdosRenyi().densities(shapes, s), None)
    assert r == pytest.approx(0.254, abs=0.005)


# MST spec §3.2 ER fixtures: densities of (c_attn, attn.c_proj, c_fc, mlp.c_proj, head).
ER_TABLE = [("gpt2", 0.5, (0.540, 0.810, 0.507, 0.507, 0.411)),
            ("gpt2", 0.9, (0.108, 0.162, 0.101, 0.101, 0.082)),
            ("cpu", 0.5, (0.494, 0.741, 0.463, 0.463, 0.963)),
            ("cpu", 0.9, (0.099, 0.148, 0.093, 0.093, 0.193)),
            ("shakespeare-small", 0.5, (0.499, 0.748, 0.467, 0.467, 1.0))]


@pytest.mark.parametrize("name,s,expected", ER_TABLE)
def test_er_fixtures_on_the_model_layers(name: str, s: float, expected: tuple[float, ...]) -> None:
    mcfg = get_config(name)[0]
    if mcfg.vocab_size is None:
        mcfg = mcfg.with_vocab(80)
    d = ErdosRenyi().densities(linear_shapes(mcfg), s)
    got = tuple(d[k] for k in ("h.0.attn.c_attn.weight", "h.0.attn.c_proj.weight", "h.0.mlp.c_fc.weight",
                               "h.0.mlp.c_proj.weight", "lm_head.weight"))
    assert got == pytest.approx(expected, abs=6e-4)


def test_the_engine_masks_exactly_the_spec_layers() -> None:
    # §3.1: every block Linear and the tied head (= embedding, one tensor); LNs and wpe stay dense.
    from deeprl.mst.model import GPT
    from deeprl.sparse import SparseGroup

    mcfg = get_config("cpu")[0].with_vocab(80)
    model = GPT(mcfg)
    group = SparseGroup("gpt", model, sparsity=0.9)
    assert group.shapes == linear_shapes(mcfg)
    assert group.params["lm_head.weight"] is model.wte.weight
