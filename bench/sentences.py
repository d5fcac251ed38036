"""Which sentence splitter to use for which language: accuracy on labelled paragraphs.

Run by hand from the repository root: `python -m bench.sentences` (needs the
`bench` extra: pysbd, nupunkt, syntok). Two labelled sets per language:

- **golden**: the "golden rules" that the pragmatic-segmenter family publishes,
  read at run time from a checkout of pySBD's test suite (`--golden DIR`,
  default `$PYSBD_REPO`: a clone of github.com/nipunsadvilkar/pySBD; without
  one only the own set is measured). The lists are read as data with
  `ast.literal_eval`, never imported or run. Cases whose text holds line
  breaks are left out: digest cuts lines into blocks before splitting.
- **own**: `testkit/sentence_cases.py`, written for digest, partly from
  sentences of the corpus feeds where splitting went wrong.

A case counts as right when the splitter returns exactly the expected
sentences (whitespace aside). The table prints accuracy per language and
splitter, and which one digest's `split_sentences` should follow.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import subprocess
import time
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path

from digest.text.sentences import split_sentences
from testkit.sentence_cases import CASES

Case = tuple[str, list[str]]
Splitter = Callable[[str, str], list[str]]
GOLDEN = Path(os.environ.get("PYSBD_REPO", "pySBD"))
_FILES = {
    "en": "english", "de": "deutsch", "fr": "french", "es": "spanish", "it": "italian",
    "nl": "dutch", "ru": "russian", "pl": "polish", "da": "danish", "el": "greek", "sk": "slovak",
    "ar": "arabic", "fa": "persian", "ur": "urdu", "zh": "chinese", "ja": "japanese",
}  # fmt: skip
_PYSBD = {"en", "de", "fr", "es", "it", "nl", "ru", "pl", "da", "el", "sk", "ar", "fa", "ur",
          "zh", "ja", "hi", "mr", "am", "hy", "bg", "my", "kk"}  # fmt: skip


def golden(repo: Path) -> dict[str, list[Case]]:
    """Golden-rule cases per language from a pySBD checkout (git objects or work tree)."""
    out: dict[str, list[Case]] = {}
    for code, name in _FILES.items():
        source = _read(repo, f"tests/lang/test_{name}.py")
        if source is None:
            continue
        tree = ast.parse(source)
        cases: list[Case] = []
        for node in tree.body:
            if not isinstance(node, ast.Assign) or not isinstance(node.targets[0], ast.Name):
                continue
            target = node.targets[0].id
            if "CLEAN" in target or "PDF" in target or not target.endswith("TEST_CASES"):
                continue
            for element in getattr(node.value, "elts", []):
                # pytest.param(text, expected, marks=…) or a plain (text, expected) tuple
                parts = element.args[:2] if isinstance(element, ast.Call) else element
                try:
                    text, expected = (
                        [ast.literal_eval(a) for a in parts]
                        if isinstance(parts, list)
                        else ast.literal_eval(parts)
                    )
                except (ValueError, TypeError):
                    continue
                if "\n" in text or "\r" in text:
                    continue
                cases.append((text, list(expected)))
        out[code] = cases
    return out


def _read(repo: Path, path: str) -> str | None:
    if (repo / path).is_file():
        return (repo / path).read_text(encoding="utf-8")
    try:
        return subprocess.run(
            ["git", f"--git-dir={repo}", "show", f"HEAD:{path}"],
            capture_output=True,
            check=True,
            text=True,
        ).stdout
    except (subprocess.CalledProcessError, FileNotFoundError):
        return None


def _sentencex(text: str, language: str) -> list[str]:
    import sentencex

    return list(sentencex.segment(language, text))


def _pysbd(text: str, language: str) -> list[str]:
    import pysbd

    segmenter = _cached(
        ("pysbd", language),
        lambda: pysbd.Segmenter(language=language if language in _PYSBD else "en", clean=False),
    )
    return [str(s) for s in segmenter.segment(text)]  # type: ignore[attr-defined]


def _nupunkt(text: str, language: str) -> list[str]:
    import nupunkt

    return [str(s) for s in nupunkt.sent_tokenize(text)]


def _syntok(text: str, language: str) -> list[str]:
    from syntok import segmenter

    out = []
    for paragraph in segmenter.process(text):
        for sentence in paragraph:
            out.append("".join(t.spacing + t.value for t in sentence))
    return out


_CACHE: dict[tuple[str, str], object] = {}


def _cached(key: tuple[str, str], make: Callable[[], object]) -> object:
    if key not in _CACHE:
        _CACHE[key] = make()
    return _CACHE[key]


SPLITTERS: dict[str, Splitter] = {
    "sentencex": _sentencex,
    "pysbd": _pysbd,
    "nupunkt": _nupunkt,
    "syntok": _syntok,
    "digest": lambda text, language: list(split_sentences(text, language)),
}


def _long_paragraphs(limit: int = 20) -> list[str]:
    """News articles as one paragraph each (CNN/DailyMail in the corpus), for speed."""
    default = Path(__file__).resolve().parents[2] / "shared" / "corpus"
    path = Path(os.environ.get("DIGEST_CORPUS", default)) / "summaries" / "h4-news.jsonl"
    if not path.is_file():
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()[:limit]]
    return [" ".join(str(r["text"]).split()) for r in rows]


def _norm(sentences: Sequence[str]) -> list[str]:
    normal = (unicodedata.normalize("NFC", re.sub(r"\s+", " ", s)).strip() for s in sentences)
    return [s for s in normal if s]


def score(splitter: Splitter, cases: Sequence[Case], language: str) -> tuple[int, list[str]]:
    right = 0
    misses = []
    for text, expected in cases:
        try:
            got = _norm(splitter(text, language))
        except Exception as e:  # a splitter that crashes on a case gets it wrong
            got = [f"<{type(e).__name__}>"]
        if got == _norm(expected):
            right += 1
        else:
            misses.append(f"{text[:70]!r} → {got}")
    return right, misses


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--golden", type=Path, default=GOLDEN)
    parser.add_argument("--misses", default="", help="print the misses of this splitter")
    args = parser.parse_args(argv)
    sets = {"golden": golden(args.golden), "own": CASES}
    if not sets["golden"]:
        print(f"no pySBD checkout at {args.golden}: golden rules left out (--golden DIR)")
    languages = sorted({*sets["golden"], *sets["own"]}, key=lambda c: (c != "en", c))
    names = list(SPLITTERS)
    print(f"{'lang':<5}{'set':<7}{'cases':>6}" + "".join(f"{n:>11}" for n in names) + "  best")
    totals = dict.fromkeys(names, 0)
    seconds = dict.fromkeys(names, 0.0)
    count = 0
    for language in languages:
        for set_name, cases_by_language in sets.items():
            cases = cases_by_language.get(language, [])
            if not cases:
                continue
            count += len(cases)
            row = {}
            for name in names:
                started = time.perf_counter()
                right, misses = score(SPLITTERS[name], cases, language)
                seconds[name] += time.perf_counter() - started
                row[name] = right
                totals[name] += right
                if name == args.misses:
                    for miss in misses:
                        print(f"    miss {language}/{set_name}: {miss}")
            best = max(row[n] for n in names if n != "digest")
            winners = ",".join(n for n in names if n != "digest" and row[n] == best)
            print(
                f"{language:<5}{set_name:<7}{len(cases):>6}"
                + "".join(f"{row[n] / len(cases):>11.0%}" for n in names)
                + f"  {winners}"
            )
    print(f"{'all':<12}{count:>6}" + "".join(f"{totals[n] / max(count, 1):>11.1%}" for n in names))
    print(
        f"{'ms/case':<18}" + "".join(f"{1000 * seconds[n] / max(count, 1):>11.2f}" for n in names)
    )
    long = _long_paragraphs()
    if long:
        timing = []
        for name in names:
            started = time.perf_counter()
            for text in long:
                SPLITTERS[name](text, "en")
            timing.append(1000 * (time.perf_counter() - started) / len(long))
        label = f"ms/{sum(map(len, long)) / len(long):,.0f} ch"
        print(f"{label:<18}" + "".join(f"{t:>11.1f}" for t in timing))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
