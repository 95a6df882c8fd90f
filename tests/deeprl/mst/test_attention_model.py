"""HSA patterns against hand-drawn masks and the spec's α fixtures; the GPT's causality by gradients."""

from __future__ import annotations

import math

import pytest
import torch

from deeprl.mst.attention import HSAConfig, attention_density, causal_mask, pattern_mask
from deeprl.mst.configs import ModelConfig, get_config
from deeprl.mst.model import GPT


def _draw(rows: list[str]) -> torch.Tensor:
    return torch.tensor([[c == "1" for c in r.ljust(len(rows))] for r in rows])


HAND = {
    # T = 8, w = 3: local (11) i - j < 3; strided (12) (i - j) mod 3 = 0; sparse (13) = union.
    ("local", 3): ["1", "11", "111", ".111", "..111", "...111", "....111", ".....111"],
    ("strided", 3): ["1", ".1", "..1", "1..1", ".1..1", "..1..1", "1..1..1", ".1..1..1"],
    ("sparse", 3): ["1", "11", "111", "1111", ".1111", "..1111", "1..1111", ".1..1111"],
    # T = 8, w = 4: fixed (14) same block of 4, or the key is the last of its block.
    ("fixed", 4): ["1", "11", "111", "1111", "...11", "...111", "...1111", "...11111"],
}


@pytest.mark.parametrize("pattern,w", list(HAND))
def test_patterns_equal_hand_drawn_masks(pattern: str, w: int) -> None:
    expected = _draw(HAND[(pattern, w)])
    got = pattern_mask(pattern, 8, w)
    assert torch.equal(got, expected), f"{pattern} w={w}\n{got.int()}"
    assert bool(got.diagonal().all())  # no all-masked softmax row
    assert not bool((got & ~causal_mask(8)).any())


@pytest.mark.parametrize("T,w,expected", [
    (1024, 128, {"local": 0.234, "strided": 0.009, "sparse": 0.241, "fixed": 0.133}),
    (256, 32, {"local": 0.234, "strided": 0.035, "sparse": 0.261, "fixed": 0.156}),
    (128, 16, {"local": 0.234, "strided": 0.070, "sparse": 0.288, "fixed": 0.186}),
    (32, 8, {"local": 0.432, "strided": 0.152, "sparse": 0.523, "fixed": 0.364}),
])
def test_alpha_fixtures_of_the_spec(T: int, w: int, expected: dict[str, float]) -> None:
    for pattern, a in expected.items():
        assert attention_density(pattern, T, w) == pytest.approx(a, abs=6e-4), pattern


def test_hsa_config_window_layers_and_alpha() -> None:
    h = HSAConfig("sparse", 8, (4, 30), "alternate")
    assert not h.active(3) and h.active(4) and h.active(29) and not h.active(30)
    assert h.sparse_layers(4) == [0, 2]
    assert h.alpha(10, 32, 4) == pytest.approx((2 * attention_density("sparse", 32, 8) + 2) / 4)
    assert h.alpha(30, 32, 4) == 1.0
    with pytest.raises(ValueError, match="hsa-pattern"):
        HSAConfig("banded", 8, (0, 1))


def _tiny(n_layer: int = 2, V: int = 11, T: int = 16) -> GPT:
    torch.manual_seed(0)
    return GPT(ModelConfig(n_layer, 2, 16, T, V))


def _input_grad(model: GPT, idx: torch.Tensor, i: int) -> torch.Tensor:
    """|∂ logits[:, i] / ∂ token embeddings| per position: which inputs output i depends on."""
    captured = {}

    def hook(_m, _inp, out):  # keep the embedding output as a graph leaf we can read
        out.retain_grad()
        captured["emb"] = out
        return out

    h = model.wte.register_forward_hook(hook)
    logits, _ = model(idx)
    h.remove()
    logits[:, i].pow(2).sum().backward()
    return captured["emb"].grad.abs().sum(dim=(0, 2))


@pytest.mark.parametrize("i", [0, 5, 15])
def test_causal_a_token_never_sees_the_future(i: int) -> None:
    model = _tiny()
    idx = torch.randint(0, 11, (3, 16), generator=torch.Generator().manual_seed(1))
    g = _input_grad(model, idx, i)
    assert torch.all(g[i + 1:] == 0), g  # exactly zero: no path from a future token
    assert torch.all(g[: i + 1] > 0), g  # and every past token is seen (dense attention)


@pytest.mark.parametrize("pattern,w", [("local", 3), ("strided", 3), ("sparse", 3), ("fixed", 4)])
def test_sparse_attention_dependencies_follow_the_pattern(pattern: str, w: int) -> None:
    # One layer: output i depends on input j exactly where the pattern allows it (plus itself).
    model = _tiny(n_layer=1, T=8)
    model.set_attention(pattern, w)
    idx = torch.randint(0, 11, (2, 8), generator=torch.Generator().manual_seed(2))
    mask = pattern_mask(pattern, 8, w)
    for i in range(8):
        model.zero_grad()
        g = _input_grad(model, idx, i)
        assert torch.equal(g > 0, mask[i]), (pattern, i, g)


def test_generation_uses_masks_of_the_actual_length() -> None:
    model = _tiny(T=16)
    model.set_attention("sparse", 4)
    out = model.generate(torch.zeros(1, 3, dtype=torch.long), 20, generator=torch.Generator().manual_seed(0))
    assert out.shape == (1, 23)


def test_parameter_count_tying_and_init() -> None:
    cfg = get_config("cpu")[0].with_vocab(80)
    model = GPT(cfg)
    assert cfg.n_linear() == 4 * 12 * 128**2 + 80 * 128 == 796_672  # eq. (1), 0.80 M
    assert sum(p.numel() for p in model.parameters()) == cfg.n_total()
    assert model.lm_head.weight is model.wte.weight
    std = model.h[0].mlp.c_proj.weight.std().item()
    assert std == pytest.approx(0.02 / math.sqrt(2 * cfg.n_layer), rel=0.05)
    assert model.h[0].mlp.c_fc.weight.std().item() == pytest.approx(0.02, rel=0.05)
