"""Named model and training configurations of MST (MST spec §2.2).

A configuration fixes the architecture (``ModelConfig``) and the training recipe (``TrainConfig``
defaults: iterations, batch, learning-rate schedule, topology interval ΔT). Char-level configurations
leave ``vocab_size`` to the data (``None`` until the corpus is prepared).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class ModelConfig:
    """GPT-2 decoder shape (MST spec §2.1): L blocks, H heads, width d, context T, vocabulary V."""

    n_layer: int
    n_head: int
    n_embd: int
    block_size: int
    vocab_size: int | None = None

    def __post_init__(self) -> None:
        for name in ("n_layer", "n_head", "n_embd", "block_size"):
            v = getattr(self, name)
            if not isinstance(v, int) or v <= 0:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        if self.vocab_size is not None and (not isinstance(self.vocab_size, int) or self.vocab_size <= 1):
            raise ValueError(f"vocab_size must be an integer > 1, got {self.vocab_size!r}")

    def with_vocab(self, vocab_size: int) -> ModelConfig:
        return replace(self, vocab_size=int(vocab_size))

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    def n_linear(self) -> int:
        """MST spec eq. (1): N_lin = L·12·d² + V·d (the tied head counted once)."""
        if self.vocab_size is None:
            raise ValueError("vocab_size is unknown until the data is prepared")
        return self.n_layer * 12 * self.n_embd**2 + self.vocab_size * self.n_embd

    def n_total(self) -> int:
        """MST spec eq. (1): N_total = N_lin + T·d + (2L+1)·d (positions and LayerNorm gains)."""
        return self.n_linear() + self.block_size * self.n_embd + (2 * self.n_layer + 1) * self.n_embd


@dataclass(frozen=True)
class Recipe:
    """Training defaults attached to a named configuration (MST spec §2.2, optimiser paragraph)."""

    iterations: int
    batch_size: int
    grad_accum: int
    lr: float
    min_lr: float
    warmup_iters: int
    betas: tuple[float, float]
    weight_decay: float
    grad_clip: float
    delta_t: int
    eval_interval: int
    eval_iters: int
    eval_batch_size: int
    log_interval: int
    dtype: str = "float32"
    hsa_w: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


_GPT2_RECIPE = Recipe(iterations=600_000, batch_size=12, grad_accum=40, lr=6e-4, min_lr=6e-5,
                      warmup_iters=2000, betas=(0.9, 0.95), weight_decay=0.1, grad_clip=1.0, delta_t=100,
                      eval_interval=1000, eval_iters=200, eval_batch_size=12, log_interval=100,
                      dtype="bfloat16")


def _char_recipe(iterations: int, batch: int, delta_t: int, eval_interval: int, eval_iters: int,
                 eval_batch: int, log_interval: int, warmup: int = 100, hsa_w: int | None = None) -> Recipe:
    return Recipe(iterations=iterations, batch_size=batch, grad_accum=1, lr=1e-3, min_lr=1e-4,
                  warmup_iters=warmup, betas=(0.9, 0.99), weight_decay=0.1, grad_clip=1.0, delta_t=delta_t,
                  eval_interval=eval_interval, eval_iters=eval_iters, eval_batch_size=eval_batch,
                  log_interval=log_interval, hsa_w=hsa_w)


CONFIGS: dict[str, tuple[ModelConfig, Recipe]] = {
    # The paper's model (nanoGPT GPT-2 124M, BPE vocabulary padded to 50304) and reference sizes.
    "gpt2": (ModelConfig(12, 12, 768, 1024, 50304), _GPT2_RECIPE),
    "gpt2-medium": (ModelConfig(24, 16, 1024, 1024, 50304), _GPT2_RECIPE),
    "gpt2-large": (ModelConfig(36, 20, 1280, 1024, 50304), _GPT2_RECIPE),
    "gpt2-xl": (ModelConfig(48, 25, 1600, 1024, 50304), _GPT2_RECIPE),
    # Char-level Shakespeare configurations [our choice]; V comes from the data. HSA window/stride
    # w = T/8 (§4.1), except tiny's w = 8 (the spec's α fixture for T = 32).
    "shakespeare-small": (ModelConfig(6, 6, 384, 256), _char_recipe(5000, 64, 50, 250, 50, 16, 10)),
    "cpu": (ModelConfig(4, 4, 128, 128), _char_recipe(3000, 16, 25, 150, 50, 16, 10)),
    "tiny": (ModelConfig(2, 2, 32, 32), _char_recipe(40, 4, 5, 10, 4, 4, 5, warmup=5, hsa_w=8)),
}


def get_config(name: str) -> tuple[ModelConfig, Recipe]:
    """Look up a named configuration; ValueError naming the allowed names otherwise."""
    if name not in CONFIGS:
        raise ValueError(f"--config {name!r} is not one of {', '.join(CONFIGS)}")
    return CONFIGS[name]
