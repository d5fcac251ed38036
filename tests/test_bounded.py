"""Work bounded by caps, not by the input: huge articles and threads still summarise.

Timings live in `bench/`; these tests pin that the work finishes with sane output,
and that what lies past the caps is never considered.
"""

from __future__ import annotations

import random
import sys
from datetime import UTC, datetime, timedelta

import pytest

from digest import comments
from digest.config import CommentSettings
from digest.models import Comment, CommentThread
from digest.text import summarise as summarise_module
from digest.text.summarise import MAX_CHARS, summarise


def _article(size: int, seed: int = 7) -> list[str]:
    """Paragraphs of distinct made-up sentences, `size` characters in all."""
    rng = random.Random(seed)
    vocabulary = [
        "".join(rng.choices("abcdefghijklmnoprstuvw", k=rng.randint(3, 9))) for _ in range(5000)
    ]
    paragraphs: list[str] = []
    total = 0
    while total < size:
        sentences = []
        for _ in range(5):
            words = rng.choices(vocabulary, k=rng.randint(8, 22))
            sentences.append(words[0].capitalize() + " " + " ".join(words[1:]) + ".")
        paragraph = " ".join(sentences)
        paragraphs.append(paragraph)
        total += len(paragraph) + 1
    return paragraphs


@pytest.mark.parametrize("algorithm", ["auto", "lexrank", "kl", "lead"])
def test_a_huge_article_summarises_from_its_opening(algorithm: str) -> None:
    paragraphs = _article(1_200_000)
    summary = summarise(paragraphs, "en", 3, title="A huge article", algorithm=algorithm)
    assert len(summary) == 3
    opening = " ".join(paragraphs)[:MAX_CHARS]
    assert all(sentence in opening for sentence in summary)


def test_one_huge_paragraph_and_one_huge_word() -> None:
    paragraph = " ".join(_article(1_200_000, seed=3))
    summary = summarise([paragraph], "en", 3)
    assert len(summary) == 3
    assert all(sentence in paragraph[:MAX_CHARS] for sentence in summary)
    # No sentence at all in the first MAX_CHARS: nothing to summarise, and no crash.
    assert summarise(["x" * 1_200_000], "en", 3) == ()


def test_the_sentence_cap_keeps_the_first_sentences(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(summarise_module, "MAX_SENTENCES", 5)
    paragraphs = _article(20_000)
    candidates, positions = summarise_module._candidates(paragraphs, "en", max_sentences=5)
    assert len(candidates) == 5
    assert positions == sorted(positions)
    assert all(c in " ".join(paragraphs[:3]) for c in candidates)


def test_default_summaries_need_neither_nltk_nor_scipy() -> None:
    # A fresh interpreter would be the proof; here, at least, summarising must not add them.
    before = {"nltk", "scipy"} & set(sys.modules)
    summarise(_article(5_000), "en", 3)
    assert {"nltk", "scipy"} & set(sys.modules) == before


def test_a_huge_thread_on_a_huge_article_picks_comments() -> None:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    texts = _article(10_000 * 700, seed=11)
    thread = tuple(
        Comment(
            author=f"reader {n}",
            text=texts[n][:400] + (" Long tail." * 5000 if n % 997 == 0 else ""),
            id=str(n),
            parent=str(n - 1) if n % 3 else None,
            published=start + timedelta(minutes=n),
        )
        for n in range(10_000)
    )
    article = "\n\n".join(_article(1_200_000))
    chosen = comments.pick_for_story(
        CommentThread(comments=thread),
        CommentSettings(abuse_filter=False),
        article=article,
        now=start + timedelta(days=30),
    )
    assert len(chosen) == 3
    assert len({c.author for c in chosen}) == 3
    # Only the first MAX_COMMENTS comments were considered.
    assert all(int(c.id or 0) < comments.MAX_COMMENTS for c in chosen)
