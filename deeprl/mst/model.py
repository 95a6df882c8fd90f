"""GPT-2 decoder of nanoGPT (MST spec §2.1) with an attention-pattern hook for HSA (§4).

Pre-LN blocks ``x ← x + Attn(LN(x))``, ``x ← x + MLP(LN(x))``, no biases, no dropout, tied
embedding / LM head (one tensor: masking the head masks the embedding, §3.1). Sparse attention is
switched on per layer with :meth:`GPT.set_attention`; outside it SDPA runs with ``is_causal=True``.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from deeprl.mst.attention import cached_mask
from deeprl.mst.configs import ModelConfig


class CausalSelfAttention(nn.Module):
    """``c_attn`` d→3d, H heads of width Q = d/H through SDPA, ``c_proj`` d→d."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        d = cfg.n_embd
        self.n_head = cfg.n_head
        self.c_attn = nn.Linear(d, 3 * d, bias=False)
        self.c_proj = nn.Linear(d, d, bias=False)
        # (pattern, w) when this layer uses sparse attention, else None (dense causal).
        self.sparse: tuple[str, int] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, d = x.shape
        q, k, v = self.c_attn(x).split(d, dim=2)
        shape = (B, T, self.n_head, d // self.n_head)
        q, k, v = (z.view(shape).transpose(1, 2) for z in (q, k, v))
        if self.sparse is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            mask = cached_mask(self.sparse[0], T, self.sparse[1], x.device)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.c_proj(y.transpose(1, 2).contiguous().view(B, T, d))


class MLP(nn.Module):
    """``c_fc`` d→4d, tanh-GELU, ``c_proj`` 4d→d."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(cfg.n_embd, 4 * cfg.n_embd, bias=False)
        self.c_proj = nn.Linear(4 * cfg.n_embd, cfg.n_embd, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.n_embd, bias=False)
        self.attn = CausalSelfAttention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.n_embd, bias=False)
        self.mlp = MLP(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """GPT-2 language model; ``forward(idx, targets)`` returns ``(logits, loss)``."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        if cfg.vocab_size is None:
            raise ValueError("ModelConfig.vocab_size must be set (prepare the data first)")
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.wpe = nn.Embedding(cfg.block_size, cfg.n_embd)
        self.h = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layer)])
        self.ln_f = nn.LayerNorm(cfg.n_embd, bias=False)
        self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # tied: one tensor, one mask (MST spec §3.1)
        self.apply(self._init_weights)
        std_proj = 0.02 / math.sqrt(2 * cfg.n_layer)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=std_proj)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def sparse_linear_names(self, mask_lm_head: bool = True) -> list[str]:
        """Names of the Linear weights MST masks (§3.1): every block Linear, plus the tied head."""
        names = [f"h.{i}.{m}.weight" for i in range(self.cfg.n_layer)
                 for m in ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")]
        if mask_lm_head:
            names.append("lm_head.weight")
        return names

    def set_attention(self, pattern: str | None, w: int = 0, layers: list[int] | None = None) -> None:
        """Sparse attention ``pattern`` with window ``w`` on ``layers`` (all if None); None = dense causal."""
        chosen = set(range(self.cfg.n_layer) if layers is None else layers)
        for i, block in enumerate(self.h):
            block.attn.sparse = (pattern, int(w)) if (pattern is not None and i in chosen) else None

    def attention_state(self) -> list[tuple[str, int] | None]:
        return [b.attn.sparse for b in self.h]

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        B, T = idx.shape
        if T > self.cfg.block_size:
            raise ValueError(f"sequence length {T} exceeds block_size {self.cfg.block_size}")
        pos = torch.arange(T, device=idx.device)
        x = self.wte(idx) + self.wpe(pos)
        for block in self.h:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))
        return logits, loss

    def optimizer_groups(self, weight_decay: float) -> list[dict]:
        """AdamW groups (§2.2): decay only block Linear weights; tied wte, wpe and LNs are not decayed."""
        decay, no_decay = [], []
        for name, p in self.named_parameters():
            (decay if name.startswith("h.") and p.dim() == 2 else no_decay).append(p)
        return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]

    @torch.no_grad()
    def generate(self, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
                 top_k: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        """Sample ``max_new_tokens`` continuations of ``idx`` (B, t); masks are built for the actual length."""
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        for _ in range(max_new_tokens):
            cond = idx[:, -self.cfg.block_size:]
            logits, _ = self(cond)
            logits = logits[:, -1, :] / temperature
            if top_k is not None:
                v, _ = torch.topk(logits, min(top_k, logits.size(-1)))
                logits[logits < v[:, [-1]]] = -float("inf")
            probs = F.softmax(logits, dim=-1)
            nxt = torch.multinomial(probs, 1, generator=generator)
            idx = torch.cat([idx, nxt], dim=1)
        return idx
