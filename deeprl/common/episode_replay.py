"""Episode replay of padded sequences (PyMARL-style), for recurrent value-based and policy learners.

Each stored episode is a dict of arrays whose leading axis is time. A field is declared once with
its per-step shape, dtype and ``extra_step`` (``True`` for quantities with one more entry than the
transitions, e.g. observations and states at ``t = 0..L``). Episodes of length ``L <= max_len`` are
zero-padded to ``max_len`` and a ``filled`` mask (``1`` for ``t < L``) is kept, so losses can be
masked. Storage is a FIFO ring of preallocated NumPy arrays; sampling is uniform without replacement.
``state_dict()`` / ``load_state_dict()`` save the whole buffer for checkpoint/resume.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Field:
    """One stored quantity: per-step ``shape``, ``dtype``, and whether it has ``max_len + 1`` steps."""

    shape: tuple[int, ...]
    dtype: Any = np.float32
    extra_step: bool = False


class EpisodeReplay:
    """FIFO buffer of ``capacity`` episodes of at most ``max_len`` transitions each."""

    def __init__(self, capacity: int, max_len: int, fields: Mapping[str, Field]) -> None:
        if not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"capacity must be a positive integer, got {capacity!r}")
        if not isinstance(max_len, int) or max_len < 1:
            raise ValueError(f"max_len must be a positive integer, got {max_len!r}")
        if "filled" in fields:
            raise ValueError("fields must not contain 'filled' (it is added by the buffer)")
        self.capacity = capacity
        self.max_len = max_len
        self.fields = dict(fields)
        self._data = {
            k: np.zeros((capacity, max_len + int(f.extra_step), *f.shape), dtype=f.dtype)
            for k, f in self.fields.items()
        }
        self._data["filled"] = np.zeros((capacity, max_len), dtype=np.float32)
        self._lengths = np.zeros(capacity, dtype=np.int64)
        self._next = 0  # slot of the next insertion
        self._size = 0
        self._added = 0  # episodes ever added

    def __len__(self) -> int:
        return self._size

    @property
    def episodes_added(self) -> int:
        return self._added

    def add(self, episode: Mapping[str, np.ndarray]) -> int:
        """Store one episode; return its slot. Every declared field must be present."""
        missing = set(self.fields) - set(episode)
        if missing:
            raise ValueError(f"episode is missing fields {sorted(missing)}")
        length = None
        for k, f in self.fields.items():
            arr = np.asarray(episode[k])
            steps = arr.shape[0] - int(f.extra_step)
            if arr.shape[1:] != f.shape:
                raise ValueError(f"field {k!r} must have per-step shape {f.shape}, got {arr.shape[1:]}")
            if length is None:
                length = steps
            elif steps != length:
                raise ValueError(f"field {k!r} has {steps} transitions, other fields have {length}")
        assert length is not None
        if not 1 <= length <= self.max_len:
            raise ValueError(f"episode length must be in [1, {self.max_len}], got {length}")
        slot = self._next
        for k in self.fields:
            buf = self._data[k][slot]
            buf[...] = 0
            arr = np.asarray(episode[k])
            buf[: arr.shape[0]] = arr
        self._data["filled"][slot] = 0.0
        self._data["filled"][slot, :length] = 1.0
        self._lengths[slot] = length
        self._next = (slot + 1) % self.capacity
        self._size = min(self._size + 1, self.capacity)
        self._added += 1
        return slot

    def recent_slots(self, k: int) -> np.ndarray:
        """Slots of the ``min(k, len)`` most recently added episodes, newest first."""
        k = min(int(k), self._size)
        return (self._next - 1 - np.arange(k)) % self.capacity

    def all_slots(self) -> np.ndarray:
        return np.arange(self._size) if self._size < self.capacity else np.arange(self.capacity)

    def sample_slots(self, n: int, rng: np.random.Generator, among: np.ndarray | None = None) -> np.ndarray:
        """``n`` distinct slots drawn uniformly from ``among`` (default: all stored episodes)."""
        pool = self.all_slots() if among is None else np.asarray(among)
        if n > len(pool):
            raise ValueError(f"cannot sample {n} episodes without replacement from {len(pool)}")
        return pool[rng.choice(len(pool), size=n, replace=False)]

    def gather(self, slots: np.ndarray, trim: bool = True) -> dict[str, np.ndarray]:
        """The episodes at ``slots`` (copies). With ``trim`` the time axis is cut to the longest one."""
        slots = np.asarray(slots, dtype=np.int64)
        t_max = int(self._lengths[slots].max()) if trim else self.max_len
        out: dict[str, np.ndarray] = {}
        for k, arr in self._data.items():
            extra = int(self.fields[k].extra_step) if k in self.fields else 0
            out[k] = arr[slots, : t_max + extra].copy()
        return out

    def sample(self, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return self.gather(self.sample_slots(n, rng))

    def state_dict(self) -> dict[str, Any]:
        return {
            "capacity": self.capacity, "max_len": self.max_len,
            "data": {k: v[: self._size].copy() if self._size < self.capacity else v.copy()
                     for k, v in self._data.items()},
            "lengths": self._lengths.copy(), "next": self._next, "size": self._size, "added": self._added,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if state["capacity"] != self.capacity or state["max_len"] != self.max_len:
            raise ValueError(f"buffer state is for capacity={state['capacity']}, max_len={state['max_len']}; "
                             f"this buffer has capacity={self.capacity}, max_len={self.max_len}")
        if set(state["data"]) != set(self._data):
            raise ValueError(f"buffer state has fields {sorted(state['data'])}, expected {sorted(self._data)}")
        for k, v in state["data"].items():
            self._data[k][...] = 0
            self._data[k][: v.shape[0]] = v
        self._lengths[...] = state["lengths"]
        self._next, self._size, self._added = int(state["next"]), int(state["size"]), int(state["added"])
