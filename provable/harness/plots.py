"""Figures of the regret harness (spec §6 (P1)-(P3) and the ICVaR alpha-harness): median over seeds
with a 10-90% band, log-log axes, a c sqrt(K) guide and the bound's shape."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import NullFormatter, ScalarFormatter  # noqa: E402

from provable import bounds  # noqa: E402

__all__ = ["plot_regret_vs_K", "plot_scaling", "plot_alpha"]

Curves = dict[str, tuple[np.ndarray, np.ndarray]]
#: line styles per algorithm, so that coinciding curves (e.g. every algorithm on the hard instance) stay visible
LINESTYLES = ["-", "--", "-.", ":", (0, (5, 1, 1, 1))]


def _title(text: str) -> str:
    return textwrap.fill(text, 80)


def _band(R: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    R = np.atleast_2d(R)
    return np.median(R, axis=0), np.quantile(R, 0.1, axis=0), np.quantile(R, 0.9, axis=0)


def _loglog(ax: Any, xlabel: str, ylabel: str, title: str, legend_size: int = 7) -> None:
    """Log-log axes with labels, title, legend and grid: the styling every harness figure shares."""
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=legend_size)
    ax.grid(True, which="both", alpha=0.3)


def _pos(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 1e-3)


def plot_regret_vs_K(path: str | Path, curves: Curves, d: int, H: int, title: str,
                     alpha: float = 1.0) -> Path:
    """(P1) R_K vs K, log-log, median + 10-90% band, sqrt(K) guide and bound shape; (P2) R_K / B(K)."""
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.8))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    kmin = min(float(np.min(K)) for K, _ in curves.values())
    kmax = max(float(np.max(K)) for K, _ in curves.values())
    top = 0.0
    for i, (algo, (K, R)) in enumerate(curves.items()):
        c = colors[i % len(colors)]
        med, lo, hi = _band(R)
        ax.plot(K, _pos(med), color=c, lw=2.5 - 0.4 * (i % 4), ls=LINESTYLES[i % len(LINESTYLES)],
                label=f"{algo} (median, n={np.atleast_2d(R).shape[0]})")
        ax.fill_between(K, _pos(lo), _pos(hi), color=c, alpha=0.2)
        top = max(top, float(med[-1]))
        B = np.asarray(bounds.bound_shape(algo, d, H, K, alpha), dtype=float)
        name = bounds.BOUND_NAME.get(algo, "d H sqrt(T)")
        j = len(K) // 2
        scale = med[j] / B[j] if B[j] > 0 and med[j] > 0 else 1.0
        ax.plot(K, _pos(scale * B), color=c, ls=":", lw=1, label=f"{name} (scaled to meet at K={K[j]:.0f})")
        r_med, r_lo, r_hi = _band(np.atleast_2d(R) / B)
        ax2.plot(K, r_med, color=c, lw=2.5 - 0.4 * (i % 4), ls=LINESTYLES[i % len(LINESTYLES)],
                 label=f"{algo}: R/[{name}]")
        ax2.fill_between(K, r_lo, r_hi, color=c, alpha=0.2)
    kk = np.geomspace(kmin, kmax, 50)
    if top > 0:
        ax.plot(kk, top * np.sqrt(kk / kmax), "k--", lw=1, label="c sqrt(K) guide")
    _loglog(ax, "K (episodes)", "cumulative exact regret R_K", _title(title))
    _loglog(ax2, "K (episodes)", "R_K / bound shape (should stay bounded)", "(P2) regret over the theorem's shape")
    for a in (ax, ax2):
        a.xaxis.set_minor_formatter(NullFormatter())
    fig.tight_layout()
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, dpi=110)
    plt.close(fig)
    return p


def plot_scaling(path: str | Path, var: str, curves: Curves, K: int, title: str) -> Path:
    """(P3) regret at fixed K against d or H, log-log, with each algorithm's theorem exponent as a guide."""
    fig, ax = plt.subplots(figsize=(6.5, 4.8))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (algo, (vals, R)) in enumerate(curves.items()):
        c = colors[i % len(colors)]
        med, lo, hi = _band(R)
        ax.plot(vals, _pos(med), marker="o", color=c, lw=2.5 - 0.4 * (i % 4), ls=LINESTYLES[i % len(LINESTYLES)],
                label=f"{algo} (median)")
        ax.fill_between(vals, _pos(lo), _pos(hi), color=c, alpha=0.2)
        e = bounds.EXPONENTS.get(algo, bounds.EXPONENTS["lower"])[var]
        guide = med[0] * (np.asarray(vals, dtype=float) / vals[0]) ** e
        ax.plot(vals, _pos(guide), ls=":", color=c, label=f"theorem {var}^{e:g}")
    _loglog(ax, var, f"cumulative exact regret at K={K}", _title(title))
    first = next(iter(curves.values()))[0]
    ax.set_xticks(list(first))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    fig.tight_layout()
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, dpi=110)
    plt.close(fig)
    return p


def plot_alpha(path: str | Path, data: dict[str, dict[float, tuple[np.ndarray, np.ndarray]]], d: int,
               H: int, title: str) -> Path:
    """Iterated-CVaR regret: vs K per alpha, and at the largest K vs 1/alpha (log) next to the ICVaR
    shapes alpha^{-(H+1)/2} (ICVaR-L upper bound) and alpha^{-(H-1)/2} (lower bound), spec §6."""
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.8))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    styles = ["-", "--", "-.", ":", (0, (3, 1, 1, 1))]
    ex = bounds.icvar_alpha_exponents(H)
    anchor_alpha = None
    for i, (algo, per_alpha) in enumerate(data.items()):
        c = colors[i % len(colors)]
        alphas = sorted(per_alpha, reverse=True)
        finals, lo_f, hi_f = [], [], []
        for j, a in enumerate(alphas):
            K, R = per_alpha[a]
            med, lo, hi = _band(R)
            ax.plot(K, _pos(med), color=c, ls=styles[j % len(styles)], label=f"{algo} alpha={a:g}")
            finals.append(med[-1])
            lo_f.append(lo[-1])
            hi_f.append(hi[-1])
        inv = 1.0 / np.asarray(alphas)
        ax2.plot(inv, _pos(np.asarray(finals)), "o-", color=c, lw=2, label=f"{algo} (median, K={int(K[-1])})")
        ax2.fill_between(inv, _pos(np.asarray(lo_f)), _pos(np.asarray(hi_f)), color=c, alpha=0.2)
        pos = [j for j, f in enumerate(finals) if f > 0]
        if i == 0 and pos:
            j0 = pos[0]  # anchor at the largest alpha with positive regret (alpha=1 can have zero regret)
            anchor_alpha = alphas[j0]
            for key, ls in (("upper", ":"), ("lower", "--")):
                ax2.plot(inv, finals[j0] * (inv / inv[j0]) ** ex[key], "k", ls=ls, lw=1,
                         label=f"ICVaR {key} shape (1/alpha)^{ex[key]:g}")
    _loglog(ax, "K (episodes)", "cumulative exact iterated-CVaR regret", _title(title), legend_size=6)
    anchor = "" if anchor_alpha is None else f"; shapes anchored at alpha={anchor_alpha:g}"
    _loglog(ax2, "1/alpha", "regret at the largest K", f"regret vs risk level (H={H}, d={d}){anchor}")
    fig.tight_layout()
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, dpi=110)
    plt.close(fig)
    return p
