"""Hybrid sparse attention patterns (MST spec §4, eqs. (11)–(15)).

A pattern is a boolean ``(T, T)`` matrix, True where query i may attend key j, always intersected
with causality j ≤ i. Every row keeps its diagonal, so softmax never sees an all-masked row.
Masks are built once per (pattern, length, window, device) and cached; they are passed to
``scaled_dot_product_attention`` as ``attn_mask``. They save accounted FLOPs, not wall-clock time.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch

PATTERNS = ("local", "strided", "sparse", "fixed")


def _index_grid(T: int) -> tuple[torch.Tensor, torch.Tensor]:
    i = torch.arange(T).unsqueeze(1)
    j = torch.arange(T).unsqueeze(0)
    return i, j


def causal_mask(T: int) -> torch.Tensor:
    """Dense causal attention: j ≤ i."""
    i, j = _index_grid(T)
    return j <= i


def pattern_mask(pattern: str, T: int, w: int) -> torch.Tensor:
    """The boolean (T, T) mask of ``pattern`` with window/stride ``w``, intersected with causality.

    - ``local``   eq. (11): i − j < w
    - ``strided`` eq. (12): (i − j) mod w = 0
    - ``sparse``  eq. (13): (11) ∨ (12)
    - ``fixed``   eq. (14): ⌊i/w⌋ = ⌊j/w⌋ ∨ j mod w = w − 1   (requires T mod w = 0 at the block size)
    """
    if pattern not in PATTERNS:
        raise ValueError(f"hsa pattern {pattern!r} is not one of {', '.join(PATTERNS)}")
    if not isinstance(w, int) or w <= 0:
        raise ValueError(f"hsa window/stride w must be a positive integer, got {w!r}")
    if T <= 0:
        raise ValueError(f"sequence length T must be positive, got {T}")
    i, j = _index_grid(T)
    causal = j <= i
    if pattern == "local":
        m = (i - j) < w
    elif pattern == "strided":
        m = ((i - j) % w) == 0
    elif pattern == "sparse":
        m = ((i - j) < w) | (((i - j) % w) == 0)
    else:
        m = ((i // w) == (j // w)) | ((j % w) == w - 1)
    return m & causal


@lru_cache(maxsize=256)
def attention_density(pattern: str, T: int, w: int) -> float:
    """MST spec eq. (15): α = |M ∧ causal| / (T(T+1)/2), density relative to dense causal attention."""
    return float(pattern_mask(pattern, T, w).sum().item()) / (T * (T + 1) / 2)


@lru_cache(maxsize=64)
def _cached(pattern: str, T: int, w: int, device: str) -> torch.Tensor:
    return pattern_mask(pattern, T, w).to(device)


def cached_mask(pattern: str, T: int, w: int, device: torch.device | str) -> torch.Tensor:
    """Mask for the actual length T (generation uses shorter T), cached per (pattern, T, w, device)."""
    return _cached(pattern, int(T), int(w), str(torch.device(device)))


@dataclass(frozen=True)
class HSAConfig:
    """When and where hybrid sparse attention is on (MST spec §4.2).

    ``window`` is the half-open iteration interval [start, end) with sparse attention; ``layers`` is
    ``"all"``, ``"alternate"`` (even layers sparse) or a tuple of layer indices.
    """

    pattern: str = "sparse"
    w: int = 16
    window: tuple[int, int] = (0, 0)
    layers: str | tuple[int, ...] = "all"

    def __post_init__(self) -> None:
        if self.pattern not in PATTERNS:
            raise ValueError(f"--hsa-pattern {self.pattern!r} is not one of {', '.join(PATTERNS)}")
        if not isinstance(self.w, int) or self.w <= 0:
            raise ValueError(f"--hsa-w must be a positive integer, got {self.w!r}")
        a, b = self.window
        if not (0 <= a <= b):
            raise ValueError(f"--hsa-window must satisfy 0 <= start <= end, got {self.window}")
        if isinstance(self.layers, str) and self.layers not in ("all", "alternate"):
            raise ValueError(f"--hsa-layers {self.layers!r} is not 'all', 'alternate' or a list of indices")

    def active(self, t: int) -> bool:
        """Whether iteration t lies in the sparse-attention window."""
        return self.window[0] <= t < self.window[1]

    def layer_on(self, layer: int, n_layer: int) -> bool:
        if self.layers == "all":
            return True
        if self.layers == "alternate":
            return layer % 2 == 0
        return layer in self.layers

    def sparse_layers(self, n_layer: int) -> list[int]:
        return [i for i in range(n_layer) if self.layer_on(i, n_layer)]

    def alpha(self, t: int, T: int, n_layer: int) -> float:
        """α(t) averaged over layers: 1 outside the window, eq. (15) on the sparse layers inside it."""
        if not self.active(t):
            return 1.0
        k = len(self.sparse_layers(n_layer))
        a = attention_density(self.pattern, T, self.w)
        return (k * a + (n_layer - k)) / n_layer
