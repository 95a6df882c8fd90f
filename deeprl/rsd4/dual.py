"""Lagrangian dual update of the energy multiplier lambda (RSD4 spec §2.7, our choice; eq. (17)).

lambda_{n+1} = clip(lambda_n + eta (E_hat_n - E_b) / E_b, 0, lambda_max), with E_hat_n the mean
energy per slot of the last ``window`` training episodes, applied every ``every`` episodes after the
random phase and frozen for the final ``freeze_frac`` of training; eta = ``lr_frac`` lambda_max.
"""

from __future__ import annotations

from collections import deque

import numpy as np


class DualAscent:
    """Projected dual ascent on lambda (eq. (17)); ``mode='fixed'`` keeps lambda = lambda_0."""

    def __init__(self, budget: float, lam_max: float, lam0: float = 1.0, lr_frac: float = 0.05,
                 every: int = 10, window: int = 10, mode: str = "ascent") -> None:
        if not (budget > 0 and np.isfinite(budget)):
            raise ValueError(f"budget must be positive for the dual update, got {budget}")
        if mode not in ("ascent", "fixed"):
            raise ValueError(f"dual mode must be 'ascent' or 'fixed', got {mode!r}")
        self.budget, self.lam_max, self.mode = float(budget), float(lam_max), mode
        self.lam = float(np.clip(lam0, 0.0, lam_max)) if mode == "ascent" else float(lam0)
        self.eta = lr_frac * lam_max
        self.every, self.window = int(every), int(window)
        self.energies: deque[float] = deque(maxlen=self.window)
        self.episodes_seen = 0

    def project(self, lam: float) -> float:
        return float(np.clip(lam, 0.0, self.lam_max))

    def observe(self, energy_per_slot: float, active: bool) -> bool:
        """Record one episode's energy per slot; apply eq. (17) every ``every`` active episodes."""
        self.energies.append(float(energy_per_slot))
        if not active or self.mode == "fixed":
            return False
        self.episodes_seen += 1
        if self.episodes_seen % self.every:
            return False
        e_hat = float(np.mean(self.energies))
        self.lam = self.project(self.lam + self.eta * (e_hat - self.budget) / self.budget)
        return True

    def state_dict(self) -> dict:
        return {"lam": self.lam, "energies": list(self.energies), "episodes_seen": self.episodes_seen}

    def load_state_dict(self, s: dict) -> None:
        self.lam = float(s["lam"])
        self.energies = deque(s["energies"], maxlen=self.window)
        self.episodes_seen = int(s["episodes_seen"])
