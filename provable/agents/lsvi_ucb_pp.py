"""LSVI-UCB++ (He, Zhao, Zhou, Gu, ICML 2023), spec §4.2, the fully specified variance-aware reference.

Presets (spec §4.3):

``preset="theory"`` — exactly spec eqs. (12)-(15):
    lambda = 1/H^2,  iota = log(d H K / (delta lambda))
    beta = H sqrt(d lambda) + sqrt(d) iota,  beta_bar = H sqrt(d lambda) + sqrt(d^3 H^2) iota,
    beta_tilde = H^2 sqrt(d lambda) + sqrt(d^3 H^4) iota                                   (15)
    D = min{4 d^3 H^2 (phi^T w_hat - phi^T w_check + 2 beta_bar u), d^3 H^3}              (14c)
    sigma_bar = max{sigma, sqrt(H), 2 d^3 H^2 u^{1/2}}                                      (14d)
  WARNING (spec §4.2): at d = H = 10 the floor coefficient 2 d^3 H^2 is 2e5, so the weights barely
  move Sigma and regret is linear at any feasible K. Use it for the invariant/optimism tests.

``preset="practical"`` — spec §4.3 item 2:
    lambda = 1, beta = c_beta sqrt(d iota), beta_bar = c_beta_bar H sqrt(d iota),
    beta_tilde = c_beta_tilde H^2 sqrt(d iota),
    D = min{2 H (phi^T w_hat - phi^T w_check + 2 beta_bar u), H^2}   (Var X <= H E|X|, X in [0,H])
    floor term c_f u^{1/2}; all c default to 1.

Both: known reward (spec §9 #3), monotone optimistic / pessimistic values (13a)/(13b), determinant-
doubling switches, weights sigma_bar^{-2} (14e). ``sigma_floor="sqrtH"`` (spec §9 #4, default) or
``"H"`` (the published print). ``bonus_scale`` multiplies beta, beta_bar and beta_tilde.
"""

from __future__ import annotations

import math

import numpy as np

from provable.agents.variance_aware import EngineConfig, VarianceAwareLSVI

__all__ = ["LSVIUCBPlusPlus", "pp_config", "PRESETS"]

PRESETS = ("theory", "practical")


def _check_common(K: int, delta: float, sigma_floor: str, preset: str) -> None:
    if isinstance(K, bool) or int(K) != K or K < 1:
        raise ValueError(f"K must be a positive integer, got {K!r}")
    if not 0.0 < delta < 1.0:
        raise ValueError(f"delta must be in (0, 1), got {delta!r}")
    if sigma_floor not in ("sqrtH", "H"):
        raise ValueError(f"sigma_floor must be 'sqrtH' or 'H', got {sigma_floor!r}")
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {', '.join(PRESETS)}, got {preset!r}")


def pp_config(d: int, H: int, K: int, preset: str = "theory", *, delta: float = 0.05,
              sigma_floor: str = "sqrtH", c_beta: float = 1.0, c_beta_bar: float = 1.0,
              c_beta_tilde: float = 1.0, c_floor: float = 1.0, clip: str = "H") -> EngineConfig:
    """The engine configuration of LSVI-UCB++ (spec eq. (14)-(15) and §4.3 item 2)."""
    _check_common(K, delta, sigma_floor, preset)
    floor = math.sqrt(H) if sigma_floor == "sqrtH" else float(H)
    if preset == "theory":
        lam = 1.0 / H**2
        iota = math.log(d * H * K / (delta * lam))
        root = math.sqrt(d * lam)
        beta = H * root + math.sqrt(d) * iota
        beta_bar = H * root + math.sqrt(d**3 * H**2) * iota
        beta_tilde = H**2 * root + math.sqrt(d**3 * H**4) * iota
        corr_coef, corr_cap, floor_coef = 4.0 * d**3 * H**2, float(d**3 * H**3), 2.0 * d**3 * H**2
    else:
        lam = 1.0
        iota = math.log(d * H * K / (delta * lam))
        r = math.sqrt(d * iota)
        beta, beta_bar, beta_tilde = c_beta * r, c_beta_bar * H * r, c_beta_tilde * H**2 * r
        corr_coef, corr_cap, floor_coef = 2.0 * H, float(H**2), c_floor
    return EngineConfig(lam=lam, beta=beta, beta_bar=beta_bar, beta_tilde=beta_tilde, weighted=True,
                        pessimistic=True, monotone=True, switching="logdet", reward_known=True, clip=clip,
                        corr_coef=corr_coef, corr_cap=corr_cap, sigma_floor=floor, floor_coef=floor_coef)


class LSVIUCBPlusPlus(VarianceAwareLSVI):
    """LSVI-UCB++ on the shared engine (spec §4.2-4.3). See the module docstring for the presets.

    Parameters
    ----------
    phi, H, reward, seed: known features, horizon, known reward (H, S, A), seed.
    K: episodes planned (enters iota of eq. (15)). delta: confidence parameter of eq. (15).
    preset: ``"theory"`` (eqs. (12)-(15) exactly) or ``"practical"`` (spec §4.3 item 2).
    bonus_scale: multiplies all radii. c_beta, c_beta_bar, c_beta_tilde, c_floor: practical constants.
    sigma_floor: ``"sqrtH"`` or ``"H"`` (spec §9 #4). clip: ``"H"`` or ``"H-h+1"``.
    path: ``"fast"`` or ``"plain"``.
    """

    name = "lsvi-ucb-pp"
    needs_reward = True

    def __init__(self, phi: np.ndarray, H: int, *, reward: np.ndarray | None = None, K: int = 10_000,
                 seed: int = 0, preset: str = "theory", bonus_scale: float = 1.0, delta: float = 0.05,
                 sigma_floor: str = "sqrtH", c_beta: float = 1.0, c_beta_bar: float = 1.0,
                 c_beta_tilde: float = 1.0, c_floor: float = 1.0, clip: str = "H", path: str = "fast",
                 refresh_every: int = 1000) -> None:
        d = np.asarray(phi).shape[-1]
        cfg = pp_config(d, H, K, preset, delta=delta, sigma_floor=sigma_floor, c_beta=c_beta,
                        c_beta_bar=c_beta_bar, c_beta_tilde=c_beta_tilde, c_floor=c_floor,
                        clip=clip).scaled(bonus_scale)
        self.K, self.preset, self.bonus_scale = int(K), preset, float(bonus_scale)
        super().__init__(phi, H, config=cfg, reward=reward, seed=seed, path=path, refresh_every=refresh_every)
