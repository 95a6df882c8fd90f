"""Mellowmax and Soft Mellowmax operators over (available) actions, spec ``sparse.md`` §3.2.

- eq. (31)  mm_w(q) = (1/w) log( (1/|A|) sum_a exp(w q_a) )
- eq. (32)  sm_w(q) = (1/w) log sum_a pi_alpha(a) exp(w q_a),  pi_alpha = softmax(alpha q)
- eq. (33)  stable form  sm_w(q) = (1/w) [ LSE((alpha + w) q) - LSE(alpha q) ]

Limits: alpha = 0 gives mellowmax; w -> inf or alpha -> inf gives max; sm_w(q) <= max(q) always
(it is a pi_alpha-weighted power mean of exp(q)); sm is nondecreasing in omega and in alpha. Unlike max
and mellowmax it is *not* nondecreasing in each q_a (q = [0, 1], omega = alpha = 1: d sm/d q_0 = -0.031);
MAST uses it only inside the (gradient-free) targets, eq. (34). Unavailable actions are excluded (their logit is
-inf) before any log-sum-exp. Gan, Zhang & Tan (AAAI 2021); Asadi & Littman (ICML 2017).
"""

from __future__ import annotations

import math

import torch


def _masked(x: torch.Tensor, avail: torch.Tensor | None) -> torch.Tensor:
    if avail is None:
        return x
    return x.masked_fill(~avail.bool(), float("-inf"))


def _check(omega: float, alpha: float = 0.0) -> None:
    if not (omega > 0 and math.isfinite(omega)):
        raise ValueError(f"omega must be a positive finite number, got {omega!r}")
    if not (alpha >= 0 and math.isfinite(alpha)):
        raise ValueError(f"alpha must be a non-negative finite number, got {alpha!r}")


def mellowmax(q: torch.Tensor, omega: float, avail: torch.Tensor | None = None, dim: int = -1) -> torch.Tensor:
    """Spec eq. (31) over axis ``dim``; ``avail`` (bool/0-1, same shape) restricts the actions."""
    _check(omega)
    n = q.new_tensor(q.shape[dim], dtype=q.dtype) if avail is None else avail.to(q.dtype).sum(dim)
    return (torch.logsumexp(_masked(omega * q, avail), dim=dim) - torch.log(n)) / omega


def soft_mellowmax(q: torch.Tensor, omega: float, alpha: float, avail: torch.Tensor | None = None,
                   dim: int = -1) -> torch.Tensor:
    """Spec eq. (33) (the stable form of eq. (32)) over axis ``dim``."""
    _check(omega, alpha)
    hi = torch.logsumexp(_masked((alpha + omega) * q, avail), dim=dim)
    if alpha == 0.0:
        n = q.new_tensor(q.shape[dim], dtype=q.dtype) if avail is None else avail.to(q.dtype).sum(dim)
        lo = torch.log(n)
    else:
        lo = torch.logsumexp(_masked(alpha * q, avail), dim=dim)
    return (hi - lo) / omega
