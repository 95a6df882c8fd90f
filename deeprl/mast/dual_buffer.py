"""Dual replay buffer, spec ``sparse.md`` §3.4, eq. (37).

B_off: FIFO of ``capacity_off`` episodes; B_on: FIFO of the ``capacity_on`` most recent episodes. Both are
fed every finished episode, so (for ``capacity_on <= capacity_off``) B_on is exactly the newest
``capacity_on`` episodes of B_off: we keep one storage (:class:`deeprl.common.episode_replay.EpisodeReplay`)
and read B_on as its most recent slots, which is the same distribution without storing episodes twice.
A minibatch of B episodes takes ``ceil(rho * B)`` from B_on and the rest from B_off, each uniformly without
replacement (B_off fills in while B_on holds fewer episodes); an episode may appear in both parts, as with
two physical buffers. ``rho = 0`` is the ordinary single buffer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from deeprl.common.episode_replay import EpisodeReplay, Field


class DualEpisodeReplay:
    """Episode replay with an on-policy (recent) part mixed into every minibatch at rate ``rho``."""

    def __init__(self, capacity_off: int, capacity_on: int, rho: float, max_len: int,
                 fields: Mapping[str, Field]) -> None:
        if not isinstance(capacity_on, int) or capacity_on < 1:
            raise ValueError(f"capacity_on must be a positive integer, got {capacity_on!r}")
        if capacity_on > capacity_off:
            raise ValueError(f"capacity_on ({capacity_on}) must not exceed capacity_off ({capacity_off})")
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"rho must be in [0, 1], got {rho!r}")
        self.storage = EpisodeReplay(capacity_off, max_len, fields)
        self.capacity_on, self.rho = capacity_on, float(rho)

    def __len__(self) -> int:
        return len(self.storage)

    def add(self, episode: Mapping[str, np.ndarray]) -> None:
        self.storage.add(episode)

    def split(self, batch_size: int) -> tuple[int, int]:
        """(episodes from B_on, episodes from B_off) for a minibatch of ``batch_size``."""
        n_on = min(math.ceil(self.rho * batch_size), len(self.storage), self.capacity_on)
        return n_on, batch_size - n_on

    def sample(self, batch_size: int, rng: np.random.Generator) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """A minibatch (eq. 37) and a bool vector marking the episodes drawn from B_on."""
        if batch_size > len(self.storage):
            raise ValueError(f"cannot sample {batch_size} episodes from a buffer of {len(self.storage)}")
        n_on, n_off = self.split(batch_size)
        on = self.storage.sample_slots(n_on, rng, among=self.storage.recent_slots(self.capacity_on))
        off = self.storage.sample_slots(n_off, rng)
        slots = np.concatenate([on, off])
        from_on = np.concatenate([np.ones(n_on, bool), np.zeros(n_off, bool)])
        return self.storage.gather(slots), from_on

    def state_dict(self) -> dict[str, Any]:
        return {"storage": self.storage.state_dict(), "capacity_on": self.capacity_on, "rho": self.rho}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.storage.load_state_dict(state["storage"])
