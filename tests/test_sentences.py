"""Sentence splitting per language, CJK words and summaries, hygiene of single sentences."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digest.collect.feeds import parse_feed
from digest.models import Fetched
from digest.text import extract
from digest.text.sentences import is_clean, is_standalone, split_sentences, words
from digest.text.summarise import summarise
from testkit.sentence_cases import CASES

LABELLED = [
    (language, text, expected) for language, cases in CASES.items() for text, expected in cases
]


@pytest.mark.parametrize(("language", "text", "expected"), LABELLED)
def test_labelled_paragraphs_split_as_an_editor_reads_them(
    language: str, text: str, expected: list[str]
) -> None:
    assert list(split_sentences(text, language)) == expected


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        ("de", "Er wurde 20. Das ist jung.", ["Er wurde 20.", "Das ist jung."]),
        ("de", "Das Projekt startete 2019. Microsoft kaufte es später.",
         ["Das Projekt startete 2019.", "Microsoft kaufte es später."]),
        ("en", "Wow! The rain stopped.", ["Wow!", "The rain stopped."]),
        ("en", "We played Pitfall!, Pong and more. It was fun.",
         ["We played Pitfall!, Pong and more.", "It was fun."]),
        ("en", "Then let's get into the news... is Valve in trouble?",
         ["Then let's get into the news... is Valve in trouble?"]),
        ("en", "Many features still haven't shipped yet. iOS 11.1 mostly fixed bugs.",
         ["Many features still haven't shipped yet.", "iOS 11.1 mostly fixed bugs."]),
        ("sk", "Ide o príslušníkov XII. Pluku špeciálneho určenia.",
         ["Ide o príslušníkov XII. Pluku špeciálneho určenia."]),
        ("tlh", "An unknown language. It splits.", ["An unknown language.", "It splits."]),
        ("en", "", []),
    ],
)  # fmt: skip
def test_splitting_edge_cases(language: str, text: str, expected: list[str]) -> None:
    assert list(split_sentences(text, language)) == expected


@given(
    st.text(max_size=400), st.sampled_from(["en", "de", "fr", "es", "pt", "zh", "ja", "ar", "xx"])
)
@settings(max_examples=200, deadline=None)
def test_splitting_never_raises_and_loses_no_words(text: str, language: str) -> None:
    sentences = split_sentences(text, language)
    assert all(s == s.strip() and s for s in sentences)
    kept = sum(c.isalnum() for s in sentences for c in s)
    assert kept == sum(c.isalnum() for c in text)


@pytest.mark.parametrize(
    ("sentence", "count"),
    [
        ("美国白宫称，将提名驻阿富汗美军司令官约翰‧艾伦为北约最高司令官。", 10),
        ("政府は新しい計画を発表した。", 5),
        ("Apple launched the new iPhone today.", 6),
    ],
)
def test_cjk_words_are_segmented(sentence: str, count: int) -> None:
    assert len(words(sentence)) >= count


@pytest.mark.parametrize(
    ("language", "paragraphs"),
    [
        ("zh", ["国际货币基金组织警告说，尽管各国政府采取措施刺激经济，但全球经济恢复速度正在减弱。"
                "该组织下调了今年的增长预测。", "专家认为，欧元区的债务危机仍是最大的风险。"]),
        ("ja", ["政府は新しい経済対策を発表した。実施は来年４月からとなる見通しだ。",
                "専門家は、物価の上昇が続く可能性があると指摘している。"]),
        (None, ["美国白宫称，将提名驻阿富汗美军司令官约翰‧艾伦为北约最高司令官。"]),
    ],
)  # fmt: skip
def test_chinese_and_japanese_summaries_are_not_empty(
    language: str | None, paragraphs: list[str]
) -> None:
    summary = summarise(paragraphs, language, 3, max_words=75)
    assert summary
    assert all(s in "".join(paragraphs) for s in summary)


@pytest.mark.parametrize(
    ("sentence", "clean"),
    [
        ("The council approved the new budget on Monday evening.", True),
        ("When you use the Nokogiri::Slop() method, it adds a decorator.", False),
        ("The new TwiML <stream> command streams call audio to a server.", False),
        ("This post originally appeared on the company blog last week.", False),
        ("Read more about the new phones on our website today.", False),
        ("Follow the link at https://example.com/story for the rest.", False),
        ("Photo by Jane Doe for The Daily Paper, all rights reserved.", False),
    ],
)
def test_hygiene(sentence: str, clean: bool) -> None:
    assert is_clean(sentence) is clean
    assert is_standalone(sentence) is clean


def _entries(corpus: Path, name: str) -> list[tuple[str, list[str]]]:
    path = corpus / "feeds" / name
    _, entries = parse_feed(Fetched(url=str(path), final_url=str(path), content=path.read_bytes()))
    out = []
    for entry in entries:
        article = extract.from_feed(entry)
        out.append((entry.title, list(summarise(article.paragraphs, entry.language, 3))))
    return out


def test_corpus_chinese_summaries_are_not_empty(corpus: Path) -> None:
    summaries = _entries(corpus, "rss2email-bbc-chinese-feed.atom")
    assert summaries and all(summary for _, summary in summaries)
    assert all(s.endswith(("。", "！", "？", "”")) for _, summary in summaries for s in summary)


def test_corpus_broken_splits_are_gone(corpus: Path) -> None:
    natasha = [s for _, summary in _entries(corpus, "netnewswire-natasha.xml") for s in summary]
    assert not [s for s in natasha if s.startswith("Swift app to Swift")]
    cre = [s for _, summary in _entries(corpus, "feedjira-CRE.xml") for s in summary]
    assert not [s for s in cre if s.startswith("Jahrhunderts")]
    assert any("des 20. Jahrhunderts die Kathedralen" in s for s in cre)


_NOISY = """
from digest.text.summarise import summarise
paragraphs = [
    "Nový iPhone a MacBook predáva firma Apple na Slovensku od pondelka vo všetkých obchodoch.",
    "Zákazníci čakali na nový iPhone pred predajňami v Bratislave aj v Košiciach celú noc.",
    "Cena základného modelu je vyššia ako minulý rok, uviedla spoločnosť vo vyhlásení.",
]
for algorithm in ("auto", "lsa", "lexrank"):
    summarise(paragraphs, "sk", 3, algorithm=algorithm)
summarise(["Áno. Nie. Hej. Tak. Dobre. Fajn. Jasné."], "sk", 5, algorithm="lsa")
"""


def test_summarising_prints_nothing_on_stderr() -> None:
    """sumy warns (Czech/Slovak stemmer on mixed case, LSA on short texts): never on stderr."""
    done = subprocess.run(
        [sys.executable, "-W", "default", "-c", _NOISY],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
