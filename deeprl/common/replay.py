"""A generic uniform transition replay buffer: a FIFO ring over named NumPy fields.

Every method that learns from single transitions (TD3, SAC, DDPG-style schedulers) can reuse it; what is
method-specific (RLx2's dynamic capacity, multi-step targets) is built on top of its small public API:

- *logical* indices ``0 .. len(buf) - 1`` run from the oldest stored transition to the newest, so
  ``i + 1`` is the transition that followed ``i`` in time (one environment per buffer);
- :meth:`pop_oldest` removes transitions from the old end (capacity can shrink without copying);
- :meth:`state_dict` / :meth:`load_state_dict` save exactly the stored contents, in time order, so a
  resumed run samples the same minibatches as an uninterrupted one.

Fields are declared once as ``{name: (shape, dtype)}``; a typical set is :func:`transition_fields`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

FieldSpec = Mapping[str, tuple[tuple[int, ...], Any]]


def transition_fields(obs_dim: int, act_dim: int, extra: FieldSpec | None = None) -> dict[str, tuple]:
    """The usual field set: ``obs, action, reward, next_obs, terminated, truncated`` (+ ``extra``).

    ``terminated`` (a true terminal: no bootstrap) and ``truncated`` (a time limit: bootstrap from
    ``next_obs``) are stored separately, as gymnasium reports them.
    """
    if obs_dim <= 0 or act_dim <= 0:
        raise ValueError(f"obs_dim and act_dim must be positive, got {obs_dim}, {act_dim}")
    fields: dict[str, tuple] = {
        "obs": ((obs_dim,), np.float32),
        "action": ((act_dim,), np.float32),
        "reward": ((), np.float32),
        "next_obs": ((obs_dim,), np.float32),
        "terminated": ((), np.bool_),
        "truncated": ((), np.bool_),
    }
    for k, v in (extra or {}).items():
        fields[k] = (tuple(v[0]), v[1])
    return fields


class ReplayBuffer:
    """Uniform FIFO ring buffer of transitions with named fields.

    Args:
        capacity: maximum number of stored transitions; adding to a full buffer overwrites the oldest.
        fields: ``{name: (shape, dtype)}`` of one transition.
    """

    def __init__(self, capacity: int, fields: FieldSpec) -> None:
        if not isinstance(capacity, (int, np.integer)) or capacity <= 0:
            raise ValueError(f"capacity must be a positive integer, got {capacity!r}")
        if not fields:
            raise ValueError("fields must name at least one field")
        self.capacity = int(capacity)
        self.fields = {k: (tuple(int(s) for s in shape), np.dtype(dt)) for k, (shape, dt) in fields.items()}
        self._data = {k: np.zeros((self.capacity, *shape), dtype=dt) for k, (shape, dt) in self.fields.items()}
        self._start = 0  # physical index of the oldest transition
        self._size = 0
        self.total_added = 0  # transitions ever added (never decreases)

    def __len__(self) -> int:
        return self._size

    def physical(self, logical: np.ndarray | int) -> np.ndarray:
        """Storage row of logical index/indices (0 = oldest); raises IndexError if out of range."""
        idx = np.asarray(logical, dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= self._size):
            raise IndexError(f"logical index out of range [0, {self._size})")
        return (self._start + idx) % self.capacity

    def add(self, **values: Any) -> None:
        """Append one transition; every declared field must be given (extra keys are an error)."""
        if set(values) != set(self.fields):
            missing = set(self.fields) - set(values)
            extra = set(values) - set(self.fields)
            raise ValueError(f"add() fields mismatch: missing {sorted(missing)}, unexpected {sorted(extra)}")
        if self._size == self.capacity:  # overwrite the oldest
            row = self._start
            self._start = (self._start + 1) % self.capacity
        else:
            row = (self._start + self._size) % self.capacity
            self._size += 1
        for k, v in values.items():
            self._data[k][row] = v
        self.total_added += 1

    def get(self, logical: np.ndarray, fields: list[str] | None = None) -> dict[str, np.ndarray]:
        """Copies of the named fields (default: all) at the given logical indices."""
        rows = self.physical(logical)
        names = list(self.fields) if fields is None else fields
        return {k: self._data[k][rows] for k in names}

    def sample_indices(self, batch_size: int, rng: np.random.Generator) -> np.ndarray:
        """``batch_size`` logical indices drawn uniformly with replacement."""
        if self._size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        return rng.integers(0, self._size, size=batch_size)

    def sample(self, batch_size: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """A uniform minibatch (with replacement) of all fields."""
        return self.get(self.sample_indices(batch_size, rng))

    def oldest(self, k: int) -> np.ndarray:
        """Logical indices of the ``min(k, len)`` oldest transitions."""
        return np.arange(min(int(k), self._size), dtype=np.int64)

    def newest(self, k: int) -> np.ndarray:
        """Logical indices of the ``min(k, len)`` newest transitions (oldest first)."""
        k = min(int(k), self._size)
        return np.arange(self._size - k, self._size, dtype=np.int64)

    def pop_oldest(self, k: int) -> int:
        """Remove up to ``k`` oldest transitions; return how many were removed."""
        if k < 0:
            raise ValueError(f"k must be non-negative, got {k}")
        k = min(int(k), self._size)
        self._start = (self._start + k) % self.capacity
        self._size -= k
        return k

    def state_dict(self) -> dict[str, Any]:
        """The stored contents in time order (not the empty capacity), plus counters."""
        rows = self.physical(np.arange(self._size))
        return {
            "capacity": self.capacity,
            "fields": {k: (shape, dt.str) for k, (shape, dt) in self.fields.items()},
            "data": {k: self._data[k][rows].copy() for k in self.fields},
            "total_added": self.total_added,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore from :meth:`state_dict`; the field set must match and the contents must fit."""
        names = set(state["fields"])
        if names != set(self.fields):
            raise ValueError(f"replay state fields {sorted(names)} differ from the buffer's {sorted(self.fields)}")
        data = state["data"]
        n = len(next(iter(data.values()))) if data else 0
        if n > self.capacity:
            raise ValueError(f"replay state holds {n} transitions, more than capacity {self.capacity}")
        for k in self.fields:
            self._data[k][:n] = data[k]
        self._start, self._size = 0, n
        self.total_added = int(state["total_added"])
