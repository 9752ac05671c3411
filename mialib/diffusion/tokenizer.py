"""A ``CLIPTokenizer`` whose vocabulary is made from a set of captions: every caption word is
exactly one token, so a tiny text encoder trained from scratch reads whole words."""

from __future__ import annotations

import json
from pathlib import Path

SPECIAL = ("<|startoftext|>", "<|endoftext|>")


def _bpe(word: str, ranks: dict) -> list[str]:
    """CLIP's byte-pair encoding of one word under the merge ranks (lowest rank merges first,
    every occurrence of the pair at once; the last character carries the end-of-word marker)."""
    symbols = list(word[:-1]) + [word[-1] + "</w>"]
    while len(symbols) > 1:
        pairs = [(ranks.get((a, b), float("inf")), i) for i, (a, b) in enumerate(zip(symbols, symbols[1:]))]
        rank, _ = min(pairs)
        if rank == float("inf"):
            break
        a, b = next((symbols[i], symbols[i + 1]) for r, i in pairs if r == rank)
        merged, i = [], 0
        while i < len(symbols):
            if i + 1 < len(symbols) and symbols[i] == a and symbols[i + 1] == b:
                merged.append(a + b)
                i += 2
            else:
                merged.append(symbols[i])
                i += 1
        symbols = merged
    return symbols


def build_tokenizer(captions, folder: str | Path, max_tokens: int = 8):
    """A ``CLIPTokenizer`` whose vocabulary is every word of ``captions`` (plus the characters
    and merges that spell them), written to ``folder`` (vocab.json, merges.txt) and loaded from
    it. Merges are added word by word, each at the lowest priority, until the word is one token
    under byte-pair encoding; a later merge can never change an earlier word, so every caption
    word is exactly one token."""
    from transformers import CLIPTokenizer

    words = sorted({w for c in captions for w in c.lower().split()})
    if not words:
        raise ValueError("the captions hold no words")
    ranks: dict = {}
    vocab = list(SPECIAL)
    for w in words:
        for sym in list(w[:-1]) + [w[-1] + "</w>"]:
            if sym not in vocab:
                vocab.append(sym)
        while len(symbols := _bpe(w, ranks)) > 1:
            ranks[(symbols[0], symbols[1])] = len(ranks)
            if symbols[0] + symbols[1] not in vocab:
                vocab.append(symbols[0] + symbols[1])
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}))
    merges = sorted(ranks, key=ranks.get)
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(f"{a} {b}" for a, b in merges) + "\n")
    tok = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=max_tokens,
                        pad_token="<|endoftext|>")
    for w in words:
        if len(tok.tokenize(w)) != 1:
            raise ValueError(f"the tokenizer splits {w!r}: {tok.tokenize(w)}")
    return tok
