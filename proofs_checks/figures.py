"""Figures of the lemma checks: the elliptical-potential sum against its bound over K, and the
self-normalised bound's empirical failure rate against δ. Written by ``python -m proofs_checks``."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from proofs_checks import concentration, elliptical  # noqa: E402


def elliptical_figure(path: Path, rng: np.random.Generator, K: int = 5000, d: int = 8) -> Path:
    fig, ax = plt.subplots(figsize=(6, 4))
    bound = None
    for fam in elliptical.FAMILIES:
        xs = elliptical.make_sequence(fam, K, d, 1.0, 1.0, rng)
        run, bound = elliptical.potential_curve(xs, 1.0)
        ax.plot(np.arange(1, K + 1), run, label=fam)
    assert bound is not None
    ax.plot(np.arange(1, K + 1), bound, "k--", label=r"$2d\log(1+KL^2/(d\lambda))$")
    ax.set_xscale("log")
    ax.set_xlabel("K")
    ax.set_ylabel(r"$\sum_{k\leq K}\min(1,\|x_k\|^2_{\Lambda_k^{-1}})$")
    ax.set_title(f"Elliptical potential (32a), d={d}, L=1, lambda=1")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def coverage_figure(path: Path, rng: np.random.Generator, N: int, T: int) -> Path:
    crit = concentration.hoeffding_critical_delta(N=N, T=T, d=4, L=1.0, lam=1.0, R=1.0, rng=rng)
    deltas = np.logspace(-3, -0.3, 40)
    rate = np.array([(crit < dl).mean() for dl in deltas])
    band = deltas + 3.0 * np.sqrt(deltas * (1 - deltas) / N)
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot(deltas, rate, "o-", ms=3, label="empirical failure rate (any t)")
    ax.plot(deltas, deltas, "k--", label=r"$\delta$")
    ax.plot(deltas, band, "k:", label=r"$\delta + 3\sqrt{\delta(1-\delta)/N}$")
    ax.set_xscale("log")
    ax.set_yscale("symlog", linthresh=1e-3)
    ax.set_ylim(0.0, 1.0)
    ax.set_xlabel(r"$\delta$")
    ax.set_ylabel("failure rate")
    ax.set_title(f"Hoeffding self-normalised bound\nN={N} replicates, T={T}, d=4", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
