"""How right and how fast the comment abuse filter is.

Run by hand from the repository root: `python -m bench.abuse`.
Prints the default filter's accuracy on the written test set
(`tests/abuse_cases.py`) at several thresholds, then its throughput over the
comment texts of the corpus (`$DIGEST_CORPUS`, default ../shared/corpus,
`comments/normalized/*.json`): comments per second one at a time
(`is_abusive`, on the first 1,000) and in one batch (`abusive`), and the share of real comments
each threshold would drop.
"""

from __future__ import annotations

import html
import json
import os
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from digest.comments.filters import DEFAULT_ABUSE, AbuseFilter
from testkit.abuse_cases import CASES

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("DIGEST_CORPUS", REPO.parent / "shared" / "corpus"))
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)
SINGLE = 1000
"""Comments timed one at a time (each call costs a few ms of scikit-learn overhead)."""
_TAG = re.compile(r"<[^>]+>")


def load_texts(corpus: Path) -> list[str]:
    """The text of every comment of the corpus's normalized threads."""
    texts = []
    for path in sorted((corpus / "comments" / "normalized").glob("*.json")):
        thread = json.loads(path.read_text(encoding="utf-8"))
        for comment in thread.get("comments", []):
            text = comment.get("text") or html.unescape(_TAG.sub(" ", comment.get("html") or ""))
            if text.strip():
                texts.append(text)
    return texts


def accuracy(abuse: AbuseFilter) -> float:
    """Share of the written test set the filter gets right."""
    verdicts = abuse.abusive([text for text, _ in CASES])
    return sum(v is label for v, (_, label) in zip(verdicts, CASES, strict=True)) / len(CASES)


def main(argv: Sequence[str] | None = None) -> int:
    started = time.perf_counter()
    DEFAULT_ABUSE.is_abusive("The first call imports the classifier.")
    print(f"classifier load and first call: {time.perf_counter() - started:.2f} s\n")
    print(f"written test set: {len(CASES)} sentences (tests/abuse_cases.py)")
    for threshold in THRESHOLDS:
        mark = "  (default)" if threshold == DEFAULT_ABUSE.threshold else ""
        share = accuracy(replace(DEFAULT_ABUSE, threshold=threshold))
        print(f"  threshold {threshold:.2f}: {share:6.1%} right{mark}")
    normalized = CORPUS / "comments" / "normalized"
    if not normalized.is_dir():
        print(f"corpus not found at {CORPUS} (set DIGEST_CORPUS)", file=sys.stderr)
        return 2
    texts = load_texts(CORPUS)
    words = sum(len(t.split()) for t in texts)
    print(f"\ncorpus: {len(texts)} comments, {words / len(texts):.0f} words on average")

    sample = texts[:SINGLE]
    started = time.perf_counter()
    single = [DEFAULT_ABUSE.is_abusive(t) for t in sample]
    elapsed = time.perf_counter() - started
    rate = len(sample) / elapsed
    print(f"  one at a time (is_abusive, first {len(sample)}): {rate:8,.0f} comments/s")

    started = time.perf_counter()
    batch = DEFAULT_ABUSE.abusive(texts)
    elapsed = time.perf_counter() - started
    rate = len(texts) / elapsed
    print(f"  one batch (abusive, all {len(texts)}):    {rate:8,.0f} comments/s ({elapsed:.2f} s)")
    if batch[: len(sample)] != single:
        print("  batch and single verdicts differ", file=sys.stderr)
        return 1

    print("  share of corpus comments dropped:")
    for threshold in THRESHOLDS:
        dropped = sum(replace(DEFAULT_ABUSE, threshold=threshold).abusive(texts))
        print(f"    threshold {threshold:.2f}: {dropped:5d} ({dropped / len(texts):5.1%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
