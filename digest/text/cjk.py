"""Chinese and Japanese: sentences end at their own punctuation, words need a segmenter.

Neither language puts spaces between words, so a `\\w+` run is a whole
clause: without a segmenter a Chinese sentence is "one word", fails every
length rule and the summary comes out empty. Chinese is segmented with
rjieba (the Rust port of jieba, dictionary built in), Japanese with
TinySegmenter (a compact model, pure Python); both ship on PyPI and load
nothing at run time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
KANA = "\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9f"
SCRIPT = re.compile(f"[{HAN}{KANA}]")
_KANA = re.compile(f"[{KANA}]")
_RUN = re.compile(f"[{HAN}{KANA}\u30fc]+")
_TERMINATORS = "。．！？!?…"
_OPENERS = "「『“‘（(《〈【〔"
_CLOSERS = "」』”’）)》〉】〕"
# A sentence never starts with these: after 」 or ” they continue the sentence (と言った).
_CONTINUES = "とっ、，,をがはのもにでや"


def has_cjk(text: str) -> bool:
    return SCRIPT.search(text) is not None


def split(text: str) -> list[str]:
    """Sentences of Chinese or Japanese text: cut after 。！？ (and their closing quotes)."""
    out: list[str] = []
    start = 0
    depth = 0
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c in _OPENERS:
            depth += 1
        elif c in _CLOSERS:
            depth = max(depth - 1, 0)
        elif (c in _TERMINATORS and depth == 0) or (c in "。！？" and depth > 0):
            j = i + 1
            while j < n and text[j] in _TERMINATORS:
                j += 1
            closing = 0
            while j < n and text[j] in _CLOSERS:
                j += 1
                closing += 1
            if depth and not closing:
                i = j  # a terminator inside a quotation that goes on
                continue
            depth = max(depth - closing, 0)
            following = text[j:].lstrip()
            if not following or following[0] not in _CONTINUES:
                if c in "!?" and following[:1].isascii() and following[:1].islower():
                    i = j  # "Yahoo! search" in Latin text inside CJK
                    continue
                out.append(text[start:j].strip())
                start = j
            i = j
            continue
        i += 1
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return [s for s in out if s]


def words(run: str) -> Iterator[str]:
    """The words of one `\\w+` run holding Han or kana characters, in order."""
    position = 0
    for match in _RUN.finditer(run):
        if match.start() > position:
            yield run[position : match.start()]  # "iPhone" in "新iPhone发布"
        chunk = match.group()
        tokens = _japanese(chunk) if _KANA.search(chunk) else _chinese(chunk)
        yield from (t for t in tokens if t.strip())
        position = match.end()
    if position < len(run):
        yield run[position:]


def _chinese(chunk: str) -> list[str]:
    return list(_jieba().cut(chunk))


def _japanese(chunk: str) -> list[str]:
    return list(_tiny().tokenize(chunk))


@lru_cache(maxsize=1)
def _jieba() -> Any:
    import rjieba

    return rjieba


@lru_cache(maxsize=1)
def _tiny() -> Any:
    import tinysegmenter

    return tinysegmenter.TinySegmenter()
