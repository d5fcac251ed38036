"""Typed blocks from feed HTML, per-feed boilerplate and the opening fallback."""
# ruff: noqa: E501  (parametrised tables read best one case per line)

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digest.collect.feeds import parse_feed
from digest.models import Article, BlockKind, Entry, Fetched
from digest.text import boilerplate, extract, opening
from digest.text.blocks import html_to_blocks, prose
from digest.text.summarise import summarise

K = BlockKind


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        ("<p>One para.</p><p>Two para.</p>", [(K.PARAGRAPH, "One para."), (K.PARAGRAPH, "Two para.")]),
        # <br><br> ends a paragraph; a single <br> inside a sentence is a space
        ("<p>First line.<br><br>Second line.</p>", [(K.PARAGRAPH, "First line."), (K.PARAGRAPH, "Second line.")]),
        ("<p>Software engineering is what happens to programming\n<br>when you add time.</p>",
         [(K.PARAGRAPH, "Software engineering is what happens to programming when you add time.")]),
        ("<p>A heading-like line<br>The next sentence starts here.</p>",
         [(K.PARAGRAPH, "A heading-like line"), (K.PARAGRAPH, "The next sentence starts here.")]),
        ("<pre>require 'dbus'\nbus = DBus::SessionBus.instance</pre>",
         [(K.CODE, "require 'dbus' bus = DBus::SessionBus.instance")]),
        ("<div class='highlight'><span>extension UITableViewCell: NibLoadableView { }</span></div>",
         [(K.CODE, "extension UITableViewCell: NibLoadableView { }")]),
        ("<p>Call <code>Nokogiri::Slop()</code> <code>method_missing()</code></p>",
         [(K.CODE, "Call Nokogiri::Slop() method_missing()")]),
        ("<figure><img src='x.jpg'><figcaption>Photo: Jane Doe/Getty Images</figcaption></figure>",
         [(K.FIGURE, "Photo: Jane Doe/Getty Images")]),
        ("<div class='wp-caption'><img src='x'><p class='wp-caption-text'>The car, parked.</p></div>",
         [(K.FIGURE, "The car, parked.")]),
        ("<blockquote class='twitter-tweet'><p>Big news tonight</p>&mdash; Sean Hannity "
         "(@seanhannity) <a href='#'>November 8, 2017</a></blockquote>",
         [(K.EMBED, "Big news tonight"), (K.EMBED, "— Sean Hannity (@seanhannity) November 8, 2017")]),
        ("<p>&mdash; Sean Hannity (@seanhannity) November 8, 2017</p>",
         [(K.EMBED, "— Sean Hannity (@seanhannity) November 8, 2017")]),
        ("<blockquote><p>Someone else's words.</p></blockquote>", [(K.QUOTE, "Someone else's words.")]),
        ("<ul><li>One thing</li><li>Another <b>thing</b></li></ul>",
         [(K.LIST_ITEM, "One thing"), (K.LIST_ITEM, "Another thing")]),
        ("<ul><li><a href='a'>A linked story title</a></li></ul>", [(K.LINKS, "A linked story title")]),
        ("<h2>1) Running with the Samsung Gear Sport</h2>",
         [(K.HEADING, "1) Running with the Samsung Gear Sport")]),
        ("<table><tr><td>Price</td><td>$5</td></tr></table>", [(K.TABLE, "Price $5")]),
        ("<p><a href='a'>Read this</a> and <a href='b'>that one too</a></p>",
         [(K.LINKS, "Read this and that one too")]),
        ("<p>Update 11/28/17: Added a note about the 64GB model.</p>",
         [(K.NOTICE, "Update 11/28/17: Added a note about the 64GB model.")]),
        ("<p>Editor's note: This article was updated on Nov. 28, 2017.</p>",
         [(K.NOTICE, "Editor's note: This article was updated on Nov. 28, 2017.")]),
        ("<p>This post originally appeared on the company blog.</p>",
         [(K.NOTICE, "This post originally appeared on the company blog.")]),
        ("<p>By Jane Doe</p>", [(K.NOTICE, "By Jane Doe")]),
        ("<p>submitted by coupdetaco to news</p>", [(K.NOTICE, "submitted by coupdetaco to news")]),
        ("<p>Order right now or you'll miss it!</p>", [(K.NOTICE, "Order right now or you'll miss it!")]),
        ("<p>Subscribe to our newsletter for more.</p>",
         [(K.NOTICE, "Subscribe to our newsletter for more.")]),
        ("<p>Folgen Sie uns auf Mastodon.</p>", [(K.NOTICE, "Folgen Sie uns auf Mastodon.")]),
        ("<aside class='related'><p>Related: other things</p></aside><p>Body text.</p>",
         [(K.ASIDE, "Related: other things"), (K.PARAGRAPH, "Body text.")]),
        ("<script>alert(1)</script><style>p{}</style><p>Safe.</p>", [(K.PARAGRAPH, "Safe.")]),
        ("<a href='x'><img src='y'></a>Plantarien waren Anfang des 20. Jahrhunderts.",
         [(K.PARAGRAPH, "Plantarien waren Anfang des 20. Jahrhunderts.")]),
        ("<pre>I split the module into a package.\nIt is easier to read now.\n\n"
         "> Old text quoted here.\n</pre>",
         [(K.PARAGRAPH, "I split the module into a package. It is easier to read now."),
          (K.QUOTE, "Old text quoted here.")]),
        ("<p>Dependencies are a first-class concept,<a class=footnote href='#n1'><sup>1</sup></a>\n"
         "and also in Go.<sup>[2]</sup></p>",
         [(K.PARAGRAPH, "Dependencies are a first-class concept, and also in Go.")]),
        ("", []),
        ("<p> </p>", []),
    ],
)  # fmt: skip
def test_blocks(markup: str, expected: list[tuple[BlockKind, str]]) -> None:
    assert [(b.kind, b.text) for b in html_to_blocks(markup)] == expected


def test_prose_is_paragraphs_only() -> None:
    blocks = html_to_blocks(
        "<p>The news.</p><pre>x = 1;</pre><figure><figcaption>A caption.</figcaption></figure>"
        "<blockquote>A quote.</blockquote><p>More news.</p>"
    )
    assert prose(blocks) == ("The news.", "More news.")


@given(
    st.text(alphabet=st.sampled_from(list("<>/\"'=&;#!-[]pbrdivlcode ax\n\x00é中")), max_size=300)
)
@settings(max_examples=300, deadline=None)
def test_arbitrary_html_never_raises(markup: str) -> None:
    for block in html_to_blocks(markup):
        assert block.text == block.text.strip()
        assert block.text


@given(
    st.text(
        alphabet=st.sampled_from(list("<>/\"'=&;#!.?-[]pbrdivlcodeqtfigurable x\n中。")),
        max_size=300,
    )
)
@settings(max_examples=200, deadline=None)
def test_arbitrary_html_always_makes_an_article_and_an_opening(markup: str) -> None:
    article = extract.from_feed(_entry(markup, excerpt=markup[::-1]))
    summary = opening.or_opening((), article, "en", 3, 20)
    assert len(summary) <= 3
    assert all(s and s == s.strip() for s in summary)


@given(st.text(max_size=200))
@settings(max_examples=200, deadline=None)
def test_arbitrary_text_never_raises(text: str) -> None:
    html_to_blocks(text)


def test_hostile_nesting_and_size_are_read_without_failing() -> None:
    deep = "<div>" * 5000 + "<p>Deep text here.</p>" + "</div>" * 5000
    assert any("Deep text here." in b.text for b in html_to_blocks(deep))
    wide = "<p>" + "<a href='x'>link</a>" * 20000 + "</p>"  # linear, not quadratic
    assert html_to_blocks(wide)[0].kind is K.LINKS


def _entry(content: str, *, excerpt: str = "", title: str = "A story") -> Entry:
    return Entry(
        key=title, title=title, url="https://example.com/" + title, source="Example",
        feed_url="https://example.com/feed", content_html=content, excerpt_html=excerpt,
    )  # fmt: skip


SERIES = "Every week our engineers share one lesson they learnt the hard way."


def test_repeated_sentences_are_the_feeds_boilerplate() -> None:
    bodies = [
        "The build went green after the cache was fixed by the team.",
        "Flaky tests cost the company a week of developer time each quarter.",
        "Reviewers approve smaller changes faster than large ones, the data shows.",
        "Comments should explain why the code does something, not what it does.",
    ]
    entries = [_entry(f"<p>{SERIES} {body}</p>", title=f"t{i}") for i, body in enumerate(bodies)]
    learnt = boilerplate.repeated(entries)
    assert boilerplate.key(SERIES) in learnt
    assert not any(boilerplate.key(b) in learnt for b in bodies)
    article = boilerplate.without(extract.from_feed(entries[0]), learnt)
    assert article.paragraphs == (bodies[0],)


def test_an_article_that_is_all_boilerplate_is_kept_whole() -> None:
    entries = [_entry(f"<p>{SERIES}</p>", title=f"t{i}") for i in range(4)]
    learnt = boilerplate.repeated(entries)
    assert boilerplate.key(SERIES) in learnt
    article = extract.from_feed(entries[0])
    assert boilerplate.without(article, learnt) == article


def test_a_sentence_in_a_minority_of_items_is_kept() -> None:
    entries = [
        _entry(f"<p>{SERIES if i < 2 else ''} Story number {i} is about a different thing.</p>",
               title=f"t{i}")
        for i in range(6)
    ]  # fmt: skip
    assert boilerplate.key(SERIES) not in boilerplate.repeated(entries)
    assert boilerplate.repeated(entries[:2]) == frozenset()  # too few items to learn from


@pytest.mark.parametrize(
    ("content", "excerpt", "expected"),
    [
        # No prose at all: the standfirst the feed gives
        ("<ul><li>Tiny</li></ul>", "<p>The council approved the budget on Monday night</p>",
         ("The council approved the budget on Monday night",)),
        # Prose too short for a summary sentence, no standfirst: the opening itself
        ("<p>Short post today.</p><pre>x = 1;</pre>", "", ("Short post today.",)),
        # Only a quote (a link-blog post): the quote, rather than nothing
        ("<blockquote><p>We will not unlock the phone, the company said.</p></blockquote>", "",
         ("We will not unlock the phone, the company said.",)),
        # Only code and captions: nothing is better than code
        ("<pre>def f(): return 1</pre><figure><figcaption>Photo: AP</figcaption></figure>", "", ()),
    ],
)  # fmt: skip
def test_opening_when_the_body_gives_no_summary(
    content: str, excerpt: str, expected: tuple[str, ...]
) -> None:
    article = extract.from_feed(_entry(content, excerpt=excerpt))
    summary = summarise(article.paragraphs, "en", 3, title="A story", max_words=75)
    assert summary == ()
    assert opening.or_opening(summary, article, "en", 3, 75) == expected


def test_opening_cuts_an_overlong_sentence_at_a_word() -> None:
    long = "The committee " + "met again and talked " * 30 + "until dawn."
    article = Article(entry=_entry(""), paragraphs=(long,))
    (sentence,) = opening.opening(article, "en", 3, 20)
    assert sentence.endswith("…")
    assert len(sentence.split()) == 20


def test_an_existing_summary_is_kept() -> None:
    article = Article(entry=_entry(""), paragraphs=(), standfirst="Something else entirely here.")
    assert opening.or_opening(("Kept as it is.",), article, "en", 3, 75) == ("Kept as it is.",)


def _corpus_entries(corpus: Path, name: str) -> list[Entry]:
    path = corpus / "feeds" / name
    return parse_feed(Fetched(url=str(path), final_url=str(path), content=path.read_bytes()))[1]


def test_corpus_code_and_tweets_are_not_prose(corpus: Path) -> None:
    entries = _corpus_entries(corpus, "nodefeedparser-intertwingly.atom")
    suspend = next(e for e in entries if e.title == "Inhibiting Suspend")
    text = " ".join(extract.from_feed(suspend).paragraphs)
    assert "require 'dbus'" not in text and "SessionBus" not in text
    tpm = _corpus_entries(corpus, "nodefeedparser-tpm.atom")
    paragraphs = [p for e in tpm for p in extract.from_feed(e).paragraphs]
    assert paragraphs and not any("(@seanhannity)" in p for p in paragraphs)


def test_corpus_series_note_never_reaches_a_summary(corpus: Path) -> None:
    """Google Testing Blog (Blogger) opens most posts with a series note and a byline."""
    entries = _corpus_entries(corpus, "rssparser-many-links.rss")
    learnt = boilerplate.repeated(entries)
    summaries: list[str] = []
    for entry in entries:
        article = boilerplate.without(extract.from_feed(entry), learnt)
        summaries += summarise(article.paragraphs, "en", 3, title=entry.title, max_words=75)
    assert summaries
    assert not [s for s in summaries if "series" in s or s.startswith("By ")]
