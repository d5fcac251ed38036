"""Lint the summaries digest writes for real feeds: what an editor would strike out.

Run by hand from the repository root: `python -m bench.summary_lint` (add
`--examples N` to see N examples per defect, `--feed NAME` to lint some feeds
only). Every feed document under the corpus's `feeds/` folder
(`$DIGEST_CORPUS`, default ../shared/corpus) is parsed as a build parses it,
every entry is extracted from the feed's own content and summarised, and each
summary sentence is checked against a reference reading of the entry's HTML
made here with lxml (independent of digest's own block parser):

- **mid-start**: the sentence does not begin where a sentence begins in the
  source: what precedes it is no sentence end (or only an ordinal such as
  "20.", an initial, a common abbreviation, or a one-word lower-case
  "sentence" such as "try!");
- **cut-end**: the source sentence goes on after it (next is lower-case text);
- **structure**: the sentence lies inside code/pre, a caption, a table, a
  quote, a list item, an embedded post or a heading in the source;
- **junk**: code-looking text, a URL, an @handle, a credit or caption, a
  notice ("Update:", "originally appeared", "this post is part of"), a call
  to action;
- **boilerplate**: the same sentence in summaries of 3 or more stories of
  one feed;
- **empty**: a story whose entry has text (≥ 1 sentence-like run of words)
  gets no summary.

Rates are per summary sentence, except empty (per story with text).
"""

from __future__ import annotations

import argparse
import itertools
import re
import sys
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import lxml.html

from digest.collect.feeds import parse_feed
from digest.models import Entry, Fetched
from digest.text import boilerplate, extract, languages, opening, summarise

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(__import__("os").environ.get("DIGEST_CORPUS", REPO.parent / "shared" / "corpus"))

_BLOCKS = {
    "p", "div", "li", "ul", "ol", "blockquote", "pre", "section", "article", "h1", "h2", "h3",
    "h4", "h5", "h6", "tr", "td", "th", "table", "figure", "figcaption", "hr", "dd", "dt", "dl",
    "aside", "header", "footer", "iframe", "center", "address",
}  # fmt: skip
_NON_PROSE = {
    "pre": "code", "code": "code", "figcaption": "caption", "figure": "caption", "table": "table",
    "blockquote": "quote", "li": "list", "h1": "heading", "h2": "heading", "h3": "heading",
    "h4": "heading", "h5": "heading", "h6": "heading", "dt": "list", "dd": "list",
}  # fmt: skip
_TERMINATORS = ".!?。！？…"
_CLOSERS = "\"'”’»)]」』"
_ABBREVIATION = re.compile(
    r"(?:^|\s)(Mr|Mrs|Ms|Dr|Prof|St|Mt|Jr|Sr|No|vs|etc|e\.g|i\.e|z\.\s?B|d\.\s?h|u\.\s?a|"
    r"bzw|ca|vgl|Nr|Str|p\.\s?ej|Sr|Sra|M|Mme|[A-Z]|\d{1,3})\.$"
)
_JUNK = {
    "code": re.compile(
        r"(\w+\(\)|[{};]\s*$|^\s*[}{]|::|->|=>|\b(def|var|let|func|require|import|#include|"
        r"extension|return)\s+[\w.:']+\s*[=({:]|==|!=|\w+\.\w+\(|</?\w+>|\bgem install\b|"
        r"(^|\s)\$ \w+)"
    ),
    "url": re.compile(r"(https?://|www\.\w|\b\w+\.(com|org|net|io)/)", re.I),
    "handle": re.compile(r"(^|\s)[@#][A-Za-z_]\w+|\(@\w+\)"),
    "credit": re.compile(
        r"(^(photo|image|picture|illustration|video|screenshot)s?\s*(by|courtesy|credit|:)|"
        r"getty images|shutterstock|\b(ap|afp) photo\b|^(photo|image|source|via|credit)s?:)",
        re.I,
    ),
    "notice": re.compile(
        r"(^\W*(update|updated|editor'?s note|correction|note|disclosure|disclaimer)\b.{0,40}[:—-]|"
        r"originally (appeared|published|posted)|\bthis (post|article|story) (is part of|first|"
        r"was originally)|\bpart \d+ of\b|\bseries\b.{0,40}\b(post|article|part)\b|"
        r"\bfeed (has )?moved\b|\bappeared first on\b|\bcontinue reading\b|\bread more\b|"
        r"\b(subscribe|sign up|follow (us|me)|click here|download (the|our)|buy now|"
        r"listen (now|here)|watch (now|here)|share this)\b)",
        re.I,
    ),
}


_TARGET_STRUCTURE = {"structure:code", "structure:caption", "structure:table", "structure:embed"}
"""Structure counted with junk (code, captions, tables, embeds); list items, headings and
quotes are reported apart: they reach a summary only as the opening fallback."""


@dataclass
class Tally:
    sentences: int = 0
    stories: int = 0
    with_text: int = 0
    empty: int = 0
    defects: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def flag(self, kind: str, where: str, sentence: str, context: str = "") -> None:
        self.defects[kind] += 1
        context = f"  ⟨after: …{context[-50:]}⟩" if context else ""
        self.examples[kind].append(f"{where}: {sentence[:150]}{context}")


@dataclass(frozen=True)
class Reference:
    """The entry's text as one line, with where blocks end and which spans are not prose."""

    text: str
    boundaries: frozenset[int]
    kinds: tuple[tuple[int, int, str], ...]

    def kind_at(self, start: int, end: int) -> str | None:
        for a, b, kind in self.kinds:
            if a <= start and end <= b:
                return kind
        return None


def reference(markup: str) -> Reference:
    """A plain reading of entry HTML: blocks end lines; <br> is only a space."""
    parts: list[str] = []
    boundaries: set[int] = set()
    kinds: list[tuple[int, int, str]] = []
    length = 0

    def add(text: str | None) -> None:
        nonlocal length
        if text:
            text = re.sub(r"\s+", " ", text)
            if parts and parts[-1].endswith(" ") and text.startswith(" "):
                text = text[1:]
            if not parts or not length:
                text = text.lstrip()
            parts.append(text)
            length += len(text)

    def boundary() -> None:
        nonlocal length
        if parts and not parts[-1].endswith(" "):
            parts.append(" ")
            length += 1
        boundaries.add(length)

    def walk(node: lxml.html.HtmlElement, inherited: str | None) -> None:
        tag = node.tag if isinstance(node.tag, str) else ""
        if tag in {"script", "style", "noscript"}:
            add(" ")
            add(node.tail)
            return
        kind = inherited or _NON_PROSE.get(tag)
        cls = (node.get("class") or "") + " " + (node.get("id") or "")
        if re.search(r"tweet|instagram|embed|social", cls, re.I):
            kind = kind or "embed"
        start = length
        if tag in _BLOCKS:
            boundary()
        add(node.text)
        for child in node:
            walk(child, kind)
        if tag in _BLOCKS:
            boundary()
        if kind and kind != inherited:
            kinds.append((start, length, kind))
        if tag == "br":
            # <br><br>, or a <br> before a capital, ends a line; else it is a space.
            nxt = node.getnext()
            following = (node.tail or "").lstrip()
            if not following and nxt is not None and nxt.tag != "br":
                following = nxt.text_content().lstrip()
            if (not following and nxt is not None and nxt.tag == "br") or following[:1].isupper():
                boundary()
            else:
                add(" ")
        add(node.tail)

    try:
        root = lxml.html.fragment_fromstring(markup or "<p></p>", create_parent="div")
    except Exception:
        return Reference("", frozenset(), ())
    walk(root, None)
    return Reference("".join(parts), frozenset(boundaries), tuple(kinds))


def has_text(ref: Reference) -> bool:
    """A run of 8 words (or 12 CJK characters) between block ends, outside code, tables,
    captions and embeds: the entry has text a summary could be made of."""
    hidden = [(a, b) for a, b, kind in ref.kinds if kind in {"code", "table", "caption", "embed"}]
    cuts = sorted({0, len(ref.text), *ref.boundaries})
    for a, b in itertools.pairwise(cuts):
        if any(x <= a and b <= y for x, y in hidden):
            continue
        run = ref.text[a:b]
        if re.search(r"\w+(\W+\w+){7}", run) or re.search(r"[\u3040-\u9fff]{12}", run):
            return True
    return False


def locate(sentence: str, ref: Reference) -> tuple[int, int] | None:
    words = re.findall(r"\w+", sentence)
    if not words:
        return None
    pattern = r"\W*".join(re.escape(w) for w in words)
    match = re.search(pattern, ref.text)
    return (match.start(), match.end()) if match else None


def starts_mid(sentence: str, ref: Reference, start: int) -> bool:
    if start in ref.boundaries or start == 0:
        return False
    before = ref.text[:start].rstrip()
    lead = sentence[
        : len(sentence) - len(re.sub(r"^\W*", "", sentence))
    ].strip()  # an opening quote or bracket
    if lead and before.endswith(lead):
        before = before[: -len(lead)].rstrip()
    if not before or any(b >= len(before) for b in ref.boundaries if b <= start):
        return False
    last = before[-1]
    if last in _CLOSERS:
        before = before.rstrip(_CLOSERS)
        last = before[-1:] or "."
    if last not in _TERMINATORS and last not in ":;":
        return True
    if last == "." and _ABBREVIATION.search(before):
        return True
    # a one-word lower-case "sentence" just before ("try!"): a name cut in two
    tail = re.split(r"[.!?。！？]\s|^", before[:-1])[-1]
    return len(tail.split()) == 1 and tail[:1].islower() and last in "!?"


def ends_cut(sentence: str, ref: Reference, end: int) -> bool:
    if end in ref.boundaries:
        return False
    after = ref.text[end:].lstrip(_CLOSERS + " ")
    return bool(after) and after[0].islower() and sentence.rstrip(_CLOSERS)[-1:] not in "!?"


def summaries_of(entries: Sequence[Entry]) -> list[tuple[Entry, tuple[str, ...]]]:
    """Every entry summarised as a build summarises an entry taken from its feed."""
    out = []
    repeated = boilerplate.repeated(entries)
    for entry in entries:
        article = boilerplate.without(extract.from_feed(entry), repeated)
        text = " ".join(article.paragraphs[:5])
        language = languages.choose(entry.language, text, "en")
        summary = summarise.summarise(
            article.paragraphs, language, 3, title=entry.title, max_words=75
        )
        summary = opening.or_opening(summary, article, language, 3, 75)
        out.append((entry, summary))
    return out


def lint(
    path: Path, tally: Tally, summarised: Callable[..., list[tuple[Entry, tuple[str, ...]]]]
) -> None:
    fetched = Fetched(url=str(path), final_url=str(path), content=path.read_bytes())
    try:
        _, entries = parse_feed(fetched)
    except Exception as e:
        print(f"{path.name}: not linted ({e})", file=sys.stderr)
        return
    seen: Counter[str] = Counter()
    results = summarised(entries)
    for entry, summary in results:
        tally.stories += 1
        ref = reference(entry.content_html)
        if has_text(ref):
            tally.with_text += 1
            if not summary:
                tally.empty += 1
                tally.examples["empty"].append(f"{path.name}: {entry.title[:80]}")
        where = f"{path.name} «{entry.title[:40]}»"
        for sentence in summary:
            tally.sentences += 1
            key = " ".join(re.findall(r"\w+", sentence.casefold()))
            seen[key] += 1
            if seen[key] == 3:
                tally.flag("boilerplate", where, sentence)
            for kind, pattern in _JUNK.items():
                if pattern.search(sentence):
                    tally.flag("junk:" + kind, where, sentence)
            span = locate(sentence, ref)
            if span is None:
                tally.flag("unlocated", where, sentence)
                continue
            if starts_mid(sentence, ref, span[0]):
                tally.flag("mid-start", where, sentence, ref.text[: span[0]])
            if ends_cut(sentence, ref, span[1]):
                tally.flag("cut-end", where, sentence)
            inside = ref.kind_at(*span)
            if inside:
                tally.flag("structure:" + inside, where, sentence)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=0)
    parser.add_argument("--feed", action="append", default=[])
    args = parser.parse_args(argv)
    folder = CORPUS / "feeds"
    if not folder.is_dir():
        print(f"no corpus at {folder} (set DIGEST_CORPUS)")
        return 2
    tally = Tally()
    paths = sorted(p for p in folder.iterdir() if not p.name.endswith(("README", ".md")))
    if args.feed:
        paths = [p for p in paths if any(f in p.name for f in args.feed)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in paths:
            lint(path, tally, summaries_of)
    n = max(tally.sentences, 1)
    print(f"{len(paths)} feeds, {tally.stories} stories, {tally.sentences} summary sentences")
    print(f"{'defect':<22}{'count':>7}{'rate':>9}")
    empty_rate = tally.empty / max(tally.with_text, 1)
    print(f"{'empty (of with text)':<22}{tally.empty:>7}{empty_rate:>9.1%}")
    groups: Counter[str] = Counter()
    for kind, count in sorted(tally.defects.items()):
        print(f"{kind:<22}{count:>7}{count / n:>9.1%}")
        if kind.startswith(("junk:", "boilerplate")) or kind in _TARGET_STRUCTURE:
            groups["code/url/caption/boilerplate"] += count
    print(
        f"{'= target class':<22}{groups['code/url/caption/boilerplate']:>7}"
        f"{groups['code/url/caption/boilerplate'] / n:>9.1%}"
    )
    if args.examples:
        for kind in sorted(tally.examples):
            print(f"\n## {kind}")
            for line in tally.examples[kind][: args.examples]:
                print("  " + line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
