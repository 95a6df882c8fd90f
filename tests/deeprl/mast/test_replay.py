"""Episode replay (padding, FIFO, state) and the dual buffer's configured mix (spec eq. 37)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from deeprl.common.episode_replay import EpisodeReplay, Field
from deeprl.mast.dual_buffer import DualEpisodeReplay

FIELDS = {"obs": Field((2,), np.float32, extra_step=True), "r": Field((), np.float32)}


def _ep(length: int, tag: float) -> dict[str, np.ndarray]:
    return {"obs": np.full((length + 1, 2), tag, np.float32), "r": np.full(length, tag, np.float32)}


def test_padding_fifo_and_state_roundtrip() -> None:
    buf = EpisodeReplay(3, 5, FIELDS)
    for i, length in enumerate([2, 5, 3, 1]):  # 4 episodes into 3 slots: the first is evicted
        buf.add(_ep(length, float(i + 1)))
    assert len(buf) == 3 and buf.episodes_added == 4
    got = buf.gather(np.array([0, 1, 2]))
    # slot 0 now holds episode 4 (length 1), slot 1 episode 2 (length 5), slot 2 episode 3 (length 3)
    assert got["r"].shape == (3, 5) and got["obs"].shape == (3, 6, 2)
    np.testing.assert_array_equal(got["filled"].sum(1), [1, 5, 3])
    np.testing.assert_array_equal(got["r"][0], [4, 0, 0, 0, 0])
    np.testing.assert_array_equal(got["obs"][0, :, 0], [4, 4, 0, 0, 0, 0])
    np.testing.assert_array_equal(buf.recent_slots(2), [0, 2])
    other = EpisodeReplay(3, 5, FIELDS)
    other.load_state_dict(buf.state_dict())
    for k, v in buf.gather(np.arange(3)).items():
        np.testing.assert_array_equal(v, other.gather(np.arange(3))[k])
    with pytest.raises(ValueError, match="length"):
        buf.add(_ep(6, 0.0))
    with pytest.raises(ValueError, match="missing"):
        buf.add({"r": np.zeros(2, np.float32)})


@pytest.mark.parametrize("rho,batch", [(0.5, 32), (0.25, 10), (0.0, 8), (1.0, 6)])
def test_dual_buffer_batches_have_the_configured_mix(rho: float, batch: int) -> None:
    c_on = 12
    buf = DualEpisodeReplay(200, c_on, rho, 4, FIELDS)
    for i in range(150):
        buf.add(_ep(1 + i % 4, float(i)))
    rng = np.random.default_rng(0)
    for _ in range(20):
        b, from_on = buf.sample(batch, rng)
        n_on = math.ceil(rho * batch) if rho > 0 else 0
        n_on = min(n_on, c_on)
        assert from_on.sum() == n_on and len(from_on) == batch
        tags = b["r"][:, 0]
        # B_on episodes are the c_on most recent (tags 138..149), drawn without replacement
        assert set(tags[from_on].tolist()) <= set(range(150 - c_on, 150))
        assert len(set(tags[from_on].tolist())) == n_on
        assert len(set(tags[~from_on].tolist())) == batch - n_on


def test_dual_buffer_on_part_is_recent_and_uniform() -> None:
    buf = DualEpisodeReplay(100, 4, 0.5, 2, FIELDS)
    for i in range(100):
        buf.add(_ep(1, float(i)))
    rng = np.random.default_rng(1)
    counts = np.zeros(100)
    for _ in range(2000):
        b, from_on = buf.sample(8, rng)
        np.add.at(counts, b["r"][from_on, 0].astype(int), 1)
    assert counts[:96].sum() == 0
    # 4 of 4 recent episodes every time -> each exactly 2000 times
    np.testing.assert_array_equal(counts[96:], [2000] * 4)


def test_dual_buffer_fills_from_off_while_on_is_short() -> None:
    buf = DualEpisodeReplay(50, 32, 0.5, 2, FIELDS)
    for i in range(10):
        buf.add(_ep(1, float(i)))
    assert buf.split(8) == (4, 4)
    with pytest.raises(ValueError, match="capacity_on"):
        DualEpisodeReplay(10, 20, 0.5, 2, FIELDS)
