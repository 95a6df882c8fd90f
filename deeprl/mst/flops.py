"""Training-FLOPs accounting of MST (MST spec §5, eqs. (16)–(19)), PaLM/nanoGPT per-token convention.

Per iteration t with global token count B_tok, layer densities ρ_l(t) and attention density α(t):

    (16) F_tok(t) = 6·Σ_l ρ_l(t)·N_l + 12·L·d·T·α(t)
    (17) F_DG(t)  = 2·Σ_l (1 − ρ_l(t))·N_l · 1[t is an update iteration]
    (18) F_MST    = Σ_t B_tok·[F_tok(t) + F_DG(t)],   F_dense = Σ_t B_tok·(6·N_lin + 12·L·d·T)
    (19) ratio    = F_MST / F_dense

ρ_l(t) is the density *after* the topology update of iteration t (if any): the convention that
reproduces the spec's §5 table (it differs from "before the update" by one iteration per ΔT).
Not counted: embedding gathers, LayerNorm, softmax, the loss and evaluation. The tied head is
counted once (its N_l = V·d). A variant without the head (``*_nohead``) is tracked as well.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from deeprl.mst.attention import HSAConfig
from deeprl.mst.configs import ModelConfig

HEAD = "lm_head.weight"


def linear_shapes(cfg: ModelConfig) -> dict[str, tuple[int, int]]:
    """(n_out, n_in) of every Linear weight MST masks, keyed like the model's parameters; the tied
    head/embedding is ``lm_head.weight`` (V, d)."""
    if cfg.vocab_size is None:
        raise ValueError("vocab_size is unknown until the data is prepared")
    d = cfg.n_embd
    shapes: dict[str, tuple[int, int]] = {}
    for i in range(cfg.n_layer):
        shapes[f"h.{i}.attn.c_attn.weight"] = (3 * d, d)
        shapes[f"h.{i}.attn.c_proj.weight"] = (d, d)
        shapes[f"h.{i}.mlp.c_fc.weight"] = (4 * d, d)
        shapes[f"h.{i}.mlp.c_proj.weight"] = (d, 4 * d)
    shapes[HEAD] = (cfg.vocab_size, d)
    return shapes


def linear_sizes(cfg: ModelConfig) -> dict[str, int]:
    """N_l = n_in·n_out of every Linear weight (the terms of eq. (1))."""
    return {k: a * b for k, (a, b) in linear_shapes(cfg).items()}


def attention_flops_per_token(cfg: ModelConfig, alpha: float = 1.0) -> float:
    """The attention term of eq. (16): 12·L·d·T·α (QKᵀ and AV over T keys, forward + backward)."""
    return 12.0 * cfg.n_layer * cfg.n_embd * cfg.block_size * alpha


def flops_per_token(cfg: ModelConfig, densities: Mapping[str, float], alpha: float = 1.0,
                    include_head: bool = True) -> float:
    """Eq. (16): F_tok = 6·Σ_l ρ_l·N_l + 12·L·d·T·α; layers missing from ``densities`` are dense."""
    sizes = linear_sizes(cfg)
    lin = sum(densities.get(k, 1.0) * n for k, n in sizes.items() if include_head or k != HEAD)
    return 6.0 * lin + attention_flops_per_token(cfg, alpha)


def dense_grad_flops_per_token(cfg: ModelConfig, densities: Mapping[str, float],
                               include_head: bool = True) -> float:
    """Eq. (17) without the indicator: 2·Σ_l (1 − ρ_l)·N_l (RigL's dense weight gradient)."""
    sizes = linear_sizes(cfg)
    return 2.0 * sum((1.0 - densities.get(k, 1.0)) * n for k, n in sizes.items() if include_head or k != HEAD)


def dense_flops_per_token(cfg: ModelConfig, include_head: bool = True) -> float:
    """The dense reference of eq. (18): 6·N_lin + 12·L·d·T."""
    return flops_per_token(cfg, {}, 1.0, include_head)


@dataclass
class FlopsAccount:
    """Running totals of eq. (18) for one run; ``state_dict`` goes into checkpoints."""

    cfg: ModelConfig
    total: float = 0.0
    total_dense: float = 0.0
    total_nohead: float = 0.0
    total_dense_nohead: float = 0.0
    last: dict[str, float] = field(default_factory=dict)

    def add(self, tokens: int, densities: Mapping[str, float], alpha: float, update: bool) -> float:
        """Charge one iteration of ``tokens`` global tokens; return its F_MST contribution."""
        f = flops_per_token(self.cfg, densities, alpha)
        f_nh = flops_per_token(self.cfg, densities, alpha, include_head=False)
        if update:
            f += dense_grad_flops_per_token(self.cfg, densities)
            f_nh += dense_grad_flops_per_token(self.cfg, densities, include_head=False)
        step = tokens * f
        step_dense = tokens * dense_flops_per_token(self.cfg)
        self.total += step
        self.total_dense += step_dense
        self.total_nohead += tokens * f_nh
        self.total_dense_nohead += tokens * dense_flops_per_token(self.cfg, include_head=False)
        self.last = {"flops_step": step, "flops_step_dense": step_dense}
        return step

    @property
    def ratio(self) -> float:
        """Eq. (19)."""
        return self.total / self.total_dense if self.total_dense else float("nan")

    @property
    def ratio_nohead(self) -> float:
        return self.total_nohead / self.total_dense_nohead if self.total_dense_nohead else float("nan")

    def state_dict(self) -> dict[str, float]:
        return {"total": self.total, "total_dense": self.total_dense, "total_nohead": self.total_nohead,
                "total_dense_nohead": self.total_dense_nohead}

    def load_state_dict(self, state: Mapping[str, float]) -> None:
        for k in ("total", "total_dense", "total_nohead", "total_dense_nohead"):
            setattr(self, k, float(state[k]))


def predicted_ratio(cfg: ModelConfig, iterations: int, delta_t: int,
                    target: Callable[[int], float], densities_at: Callable[[float], Mapping[str, float]],
                    hsa: HSAConfig | None, sparse: bool = True) -> float:
    """Eq. (19) for a whole run without training: masks follow ``densities_at(target(t))`` exactly,
    sampled at update iterations t = ΔT, 2ΔT, … < T (t = 0 starts from ``target(0)``).

    ``densities_at`` is the sparsity distribution (ER of the engine); this is how the §5 table and
    the RigL-constant sparsity of the §7 protocol are computed.
    """
    per_token: dict[tuple[float, float, bool], float] = {}
    dens_cache: dict[float, Mapping[str, float]] = {}

    def dens(s: float) -> Mapping[str, float]:
        if s not in dens_cache:
            dens_cache[s] = densities_at(s) if s > 0 else {}
        return dens_cache[s]

    updates = list(range(delta_t, iterations, delta_t)) if sparse else []
    cuts = {0, iterations, *updates}
    if hsa is not None:
        cuts |= {min(max(b, 0), iterations) for b in hsa.window}
    edges = sorted(cuts)
    upd = set(updates)
    total = 0.0
    s_now = target(0) if sparse else 0.0
    for a, b in zip(edges[:-1], edges[1:]):  # α and ρ are constant on [a, b); only t = a may update
        if a in upd:
            s_now = target(a)
        alpha = hsa.alpha(a, cfg.block_size, cfg.n_layer) if hsa is not None else 1.0
        for update, count in ((a in upd, 1), (False, b - a - 1)):
            if count <= 0:
                continue
            key = (s_now, alpha, update)
            if key not in per_token:
                rho = dens(s_now)
                per_token[key] = flops_per_token(cfg, rho, alpha) + (
                    dense_grad_flops_per_token(cfg, rho) if update else 0.0)
            total += count * per_token[key]
    return total / (iterations * dense_flops_per_token(cfg))
