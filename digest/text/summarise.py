"""Article → summary sentences, extracted, in article order, in bounded time and memory.

The default, `auto`, is a position-aware centrality ranker in the manner of
PacSum (Zheng & Lapata, 2019): a sentence scores for resembling the sentences
that come *after* it, for its place in the article, and for sharing words
with the headline; sentences are then picked greedily with a redundancy
penalty (MMR) under a word budget. Every sumy algorithm can be chosen
instead, and `lead` takes the first usable sentences. Whatever ranks them,
only sentences that stand alone are candidates (`digest.sentences`), and the
summary keeps article order. `bench/summaries.py` measures them all. Only the
article's opening is considered (`MAX_CHARS`, `MAX_SENTENCES`), so a huge page
costs no more than a long read.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, get_args

import numpy as np

from digest.config import SummaryAlgorithm
from digest.text import languages
from digest.text.sentences import fingerprint, is_dangling, near_duplicate, words
from digest.text.sentences import is_standalone as is_standalone  # re-exported for callers
from digest.text.sentences import split_sentences as split_sentences

logger = logging.getLogger(__name__)

ALGORITHMS: tuple[str, ...] = get_args(SummaryAlgorithm)
VERSION = "auto-v3"
"""Part of the cache key: change it when any selection rule changes."""

MAX_CHARS = 60_000
"""Only the article's first characters are split into sentences (about 10,000 words:
longer than nearly every news story; a summary's sentences come from the top anyway)."""
MAX_SENTENCES = 400
"""At most this many candidate sentences are ranked: `auto` compares every pair."""
MAX_SUMY_SENTENCES = 100
"""sumy's own summarisers compare pairs in pure Python: a tighter cap for them."""

# sumy's summarisers are imported on first use: through sumy.nlp.stemmers they load
# NLTK and SciPy, over a second of start-up the default `auto` does not need.
_SUMY = {
    "lexrank": ("lex_rank", "LexRankSummarizer"),
    "textrank": ("text_rank", "TextRankSummarizer"),
    "lsa": ("lsa", "LsaSummarizer"),
    "luhn": ("luhn", "LuhnSummarizer"),
    "sumbasic": ("sum_basic", "SumBasicSummarizer"),
    "kl": ("kl", "KLSummarizer"),
    "reduction": ("reduction", "ReductionSummarizer"),
}


@dataclass(frozen=True)
class SummaryWeights:
    """How `auto` weighs its signals (tuned by `bench/summaries.py --tune` on held-in data)."""

    position: float = 4.0
    """Weight of the position prior 1 / (1 + index) ** position_decay."""
    position_decay: float = 1.5
    forward: float = 0.25
    """Weight of similarity to later sentences (PacSum's λ2)."""
    backward: float = 0.0
    """Weight of similarity to earlier sentences (PacSum's λ1; negative)."""
    title: float = 0.5
    """Weight of similarity to the headline."""
    redundancy: float = 0.3
    """MMR penalty: times the highest similarity to a sentence already chosen."""
    dangling: float = 0.2
    """Penalty for questions and bare quotes."""


DEFAULT_WEIGHTS = SummaryWeights()


class Tokenizer:
    """The tokenizer interface sumy expects, with no NLTK data."""

    def __init__(self, language: str) -> None:
        self.language = language

    def to_sentences(self, paragraph: str) -> tuple[str, ...]:
        return split_sentences(paragraph, self.language)

    def to_words(self, sentence: str) -> tuple[str, ...]:
        return tuple(words(sentence))


def content_hash(
    paragraphs: Sequence[str],
    language: str,
    count: int,
    *,
    title: str = "",
    algorithm: str = "auto",
    max_words: int = 0,
) -> str:
    """The cache key of one summary: its text and everything that shapes the choice."""
    head = f"{VERSION}\x00{algorithm}\x00{language}\x00{count}\x00{max_words}\x00{title}"
    digest = hashlib.sha256(head.encode())
    for paragraph in paragraphs:
        digest.update(b"\x00" + paragraph.encode())
    return digest.hexdigest()


def summarise(
    paragraphs: Sequence[str],
    language: str | None,
    count: int,
    *,
    title: str = "",
    algorithm: str = "auto",
    max_words: int = 0,
    weights: SummaryWeights = DEFAULT_WEIGHTS,
) -> tuple[str, ...]:
    """Up to `count` standalone sentences (at most `max_words` words; 0: no cap), in order.

    `language` is a tag such as "de" or "pt-BR"; None or "" detects it from the text.
    """
    _quiet_libraries()
    language = languages.choose(language, " ".join(paragraphs[:5])[:MAX_CHARS])
    limit = MAX_SENTENCES if algorithm in ("auto", "lead") else MAX_SUMY_SENTENCES
    candidates, positions = _candidates(paragraphs, language, max_sentences=limit)
    if algorithm != "auto":
        # Questions and bare quotes only when nothing better is left.
        firm = [i for i, s in enumerate(candidates) if not is_dangling(s)]
        if len(firm) >= count:
            candidates = [candidates[i] for i in firm]
            positions = [positions[i] for i in firm]
    if count <= 0 or not candidates:
        return ()
    if algorithm == "auto":
        order = _auto(candidates, positions, language, title, weights, count, max_words)
    elif algorithm == "lead":
        order = list(range(len(candidates)))
    elif algorithm in _SUMY or algorithm == "edmundson":
        order = _sumy(algorithm, candidates, language, title, count)
    else:
        raise ValueError(f"unknown summary algorithm {algorithm!r}; choose one of {ALGORITHMS}")
    return tuple(candidates[i] for i in sorted(_fit(order, candidates, count, max_words)))


@functools.cache
def _quiet_libraries() -> None:
    """sumy warns on stderr about its own limits (LSA with few words, the Czech stemmer's
    mixed-case words); those are not the reader's concern. Only sumy's warnings are
    silenced, once, on first use; digest's own warnings still show."""
    warnings.filterwarnings("ignore", module=r"sumy(\.|$)")


def _candidates(
    paragraphs: Sequence[str],
    language: str,
    *,
    max_chars: int = MAX_CHARS,
    max_sentences: int = MAX_SENTENCES,
) -> tuple[list[str], list[int]]:
    """Standalone sentences without (near) duplicates, and each one's index in the article.

    Bounded whatever the input: only the first `max_chars` characters are split (a cut
    paragraph loses its last, partial sentence), and at most `max_sentences` are kept.
    """
    sentences: list[str] = []
    positions: list[int] = []
    kept: list[frozenset[str]] = []
    index = 0
    left = max_chars
    for paragraph in paragraphs:
        if left <= 0 or len(sentences) >= max_sentences:
            break
        cut = len(paragraph) > left
        pieces = split_sentences(paragraph[:left] if cut else paragraph, language)
        left -= len(paragraph)
        if cut:
            pieces = pieces[:-1]
        for sentence in pieces:
            if len(sentences) >= max_sentences:
                break
            if is_standalone(sentence):
                bag = frozenset(fingerprint(sentence).split())
                if not any(near_duplicate(bag, k) for k in kept):
                    kept.append(bag)
                    sentences.append(sentence)
                    positions.append(index)
            index += 1
    return sentences, positions


def _fit(order: Sequence[int], sentences: Sequence[str], count: int, max_words: int) -> list[int]:
    """The first `count` of `order` that fit in `max_words` (always at least one)."""
    chosen: list[int] = []
    used = 0
    for i in order:
        n = len(words(sentences[i]))
        if chosen and max_words and used + n > max_words:
            continue
        chosen.append(i)
        used += n
        if len(chosen) == count:
            break
    return chosen


def _auto(
    sentences: Sequence[str],
    positions: Sequence[int],
    language: str,
    title: str,
    w: SummaryWeights,
    count: int,
    max_words: int,
) -> list[int]:
    """Candidate indices, best first: PacSum-style centrality + position + headline, with MMR."""
    ranker = _PositionalCentrality(languages.stemmer(language), languages.stop_words(language))
    vectors = ranker.vectors([words(s) for s in sentences], words(title))
    matrix, title_vector = vectors[:-1], vectors[-1]
    n = len(sentences)
    similarity = matrix @ matrix.T
    np.fill_diagonal(similarity, 0.0)
    upper = np.triu(similarity, 1).sum(axis=1)
    lower = np.tril(similarity, -1).sum(axis=1)
    centrality = w.forward * upper + w.backward * lower
    spread = float(np.ptp(centrality)) if n > 1 else 0.0
    centrality = (centrality - centrality.min()) / spread if spread > 0 else centrality * 0
    prior = 1.0 / (1.0 + np.asarray(positions, dtype=float)) ** w.position_decay
    headline = matrix @ title_vector
    penalty = np.array([w.dangling if is_dangling(s) else 0.0 for s in sentences])
    score = centrality + w.position * prior + w.title * headline - penalty
    lengths = [len(words(s)) for s in sentences]
    return _mmr(score, similarity, w.redundancy, count, lengths, max_words)


def _mmr(
    score: Any, similarity: Any, redundancy: float, count: int, lengths: list[int], budget: int
) -> list[int]:
    """Greedy picks: best score minus redundancy with what is already chosen, within budget."""
    left = list(range(len(lengths)))
    chosen: list[int] = []
    used = 0
    while left and len(chosen) < count:

        def gain(i: int) -> float:
            overlap = max((float(similarity[i, j]) for j in chosen), default=0.0)
            return float(score[i]) - redundancy * overlap

        fitting = [i for i in left if not budget or not chosen or used + lengths[i] <= budget]
        if not fitting:
            break
        best = max(fitting, key=gain)
        chosen.append(best)
        used += lengths[best]
        left.remove(best)
    return chosen


class _PositionalCentrality:
    """sumy's word normalisation (lower case, stemmer, stop words) as tf-idf sentence vectors."""

    def __init__(self, stemmer: Callable[[str], str], stop_words: frozenset[str]) -> None:
        self._stemmer = stemmer
        self.stop_words = stop_words

    def vectors(self, sentences: Sequence[Sequence[str]], title: Sequence[str]) -> Any:
        """Unit tf-idf rows, one per sentence, the headline last."""
        bags = [self._terms(s) for s in sentences]
        title_bag = self._terms(title)
        df: Counter[str] = Counter(t for bag in bags for t in set(bag))
        vocabulary = {t: k for k, t in enumerate(df)}
        n = len(bags)
        idf = np.array([math.log((n + 1) / (df[t] + 0.5)) for t in vocabulary])
        rows = np.zeros((n + 1, len(vocabulary)))
        for r, bag in enumerate([*bags, title_bag]):
            for term, tf in Counter(bag).items():
                k = vocabulary.get(term)
                if k is not None:
                    rows[r, k] = (1.0 + math.log(tf)) * idf[k]
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return rows / norms

    def _terms(self, tokens: Sequence[str]) -> list[str]:
        normal = (t.lower() for t in tokens)
        return [self._stemmer(t) for t in normal if t not in self.stop_words and len(t) > 1]


def _sumy(
    algorithm: str, sentences: Sequence[str], language: str, title: str, count: int
) -> list[int]:
    """Candidate indices chosen by one of sumy's own summarisers."""
    import importlib

    from sumy.models.dom import ObjectDocumentModel, Paragraph, Sentence
    from sumy.summarizers.edmundson import EdmundsonSummarizer

    tokenizer = Tokenizer(language)
    body = [Sentence(s, tokenizer) for s in sentences]
    heading = [Sentence(title, tokenizer, is_heading=True)] if title.strip() else []
    document = ObjectDocumentModel([Paragraph(heading + body)])
    stemmer = languages.stemmer(language)
    stop = languages.stop_words(language)
    summarizer: Callable[[Any, int], Sequence[Any]]
    if algorithm == "edmundson":
        edmundson = EdmundsonSummarizer(stemmer, cue_weight=0.0, key_weight=1.0)
        title_words = {w.lower() for w in tokenizer.to_words(title)} - stop
        edmundson.bonus_words = title_words or _frequent_words(sentences, stop)
        edmundson.stigma_words = {"\x00"}
        edmundson.null_words = stop or {"\x00"}
        summarizer = edmundson
    else:
        module, name = _SUMY[algorithm]
        summarizer_class = getattr(importlib.import_module(f"sumy.summarizers.{module}"), name)
        instance = summarizer_class(stemmer)
        instance.stop_words = stop
        summarizer = instance
    chosen = {str(s) for s in summarizer(document, count)}
    return [i for i, s in enumerate(sentences) if s in chosen]


def _frequent_words(sentences: Sequence[str], stop: frozenset[str]) -> set[str]:
    counts = Counter(w.lower() for s in sentences for w in words(s) if w.lower() not in stop)
    return {w for w, _ in counts.most_common(10)} or {"\x00"}
