"""How well the comment rule picks what readers valued: NDCG@3 against hidden votes.

Run by hand from the repository root: `python -m bench.comments [--tune]`.
Reads the real Reddit and Discourse threads under `comments/` in the corpus
(`$DIGEST_CORPUS`, default ../shared/corpus) through digest's own source
parsers, hides the votes (score, and the served "best" order: threads are
presented oldest first), lets each method pick 3 comments, and scores the
picks against the real votes:

- NDCG@3, gain = log(1 + votes) (negative votes count 0), ideal = the three
  most voted comments of the thread;
- precision@3 against the 5 most voted comments.

Methods: digest's rule (all signals but votes), the rule on text and time
only (no reply counts or structure, as in a flat WordPress RSS feed), and
the baselines chronological first 3, longest 3, random 3 (mean of 50 draws)
and most replies. Every method picks from the same pool: the thread's
comments minus deleted/removed ones. Threads are split once (a fixed list) into a
tuning part and a held-out part; the table shows the held-out part, and
`--tune` searches the rule's weights on the tuning part only.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import random
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from digest.comments import rank_comments
from digest.comments.filters import AbuseFilter
from digest.comments.ranking import WEIGHTS, Weights
from digest.comments.sources import discourse, reddit
from digest.models import Comment, Fetched

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("DIGEST_CORPUS", REPO.parent / "shared" / "corpus"))
K = 3
TOP = 5
_GONE = {"[deleted]", "[removed]"}
# Fixed split, chosen once by alternating the sorted thread names per platform.
HELD_OUT = {
    "reddit-announcements-n49rw",
    "reddit-funny-3hahrw",
    "reddit-iama-z1c9z",
    "reddit-pics-fjn0j9",
    "reddit-python-6302cj",
    "discourse-criticalfallibilism-t_2144",
}


@dataclass(frozen=True)
class Thread:
    name: str
    title: str
    comments: tuple[Comment, ...]  # votes as recorded, oldest first

    @property
    def held_out(self) -> bool:
        return self.name in HELD_OUT


def load_threads(corpus: Path) -> list[Thread]:
    """Every Reddit and Discourse thread of the corpus, read by digest's parsers."""
    folder = corpus / "comments"
    threads = []
    for path in sorted(folder.glob("reddit-*.json")):
        fetched = Fetched(
            path.name, "https://www.reddit.com/", path.read_bytes(), "application/json"
        )
        thread = reddit.parse(fetched)
        title = _reddit_title(path)
        threads.append(_thread(path.stem, title, thread.comments))
    topics: dict[str, dict[str, Comment]] = {}
    for path in sorted(folder.glob("discourse-*_posts*.json")):
        topic = path.stem.split("_posts")[0]
        fetched = Fetched(
            path.name, "https://discuss.example/", path.read_bytes(), "application/json"
        )
        for c in discourse.parse(fetched).comments:
            topics.setdefault(topic, {})[c.id or ""] = c
    for topic, by_id in topics.items():
        threads.append(_thread(topic, "", tuple(by_id.values())))
    return threads


def _thread(name: str, title: str, comments: Sequence[Comment]) -> Thread:
    pool = [
        c
        for c in comments
        if c.text.strip() and c.text.strip() not in _GONE and c.author not in _GONE
    ]
    pool.sort(key=lambda c: c.published.timestamp() if c.published else 0.0)
    return Thread(name, title, tuple(pool))


def _reddit_title(path: Path) -> str:
    import json

    try:
        return str(json.loads(path.read_bytes())[0]["data"]["children"][0]["data"]["title"])
    except (KeyError, IndexError, TypeError, ValueError):
        return ""


def hidden(comments: Sequence[Comment], *, flat: bool = False) -> list[Comment]:
    """The comments as the ranker sees them: no votes, no source order; flat drops structure."""
    out = []
    for c in comments:
        c = replace(c, score=None, rank=None)
        if flat:
            c = replace(c, replies=None, parent=None, depth=0)
        out.append(c)
    return out


Picker = Callable[[Thread], list[int]]


def rule(weights: Weights = WEIGHTS, *, flat: bool = False) -> Picker:
    def pick(thread: Thread) -> list[int]:
        shown = hidden(thread.comments, flat=flat)
        index = {id(c): i for i, c in enumerate(shown)}
        # rank_comments may return cleaned copies; match them back by id field.
        by_key = {(c.id, c.author): i for i, c in enumerate(shown)}
        ranked = rank_comments(
            shown, article=thread.title, abuse=AbuseFilter(enabled=True), weights=weights, limit=K
        )
        return [index.get(id(c), by_key[(c.id, c.author)]) for c in ranked[:K]]

    return pick


def chronological(thread: Thread) -> list[int]:
    return list(range(min(K, len(thread.comments))))


def longest(thread: Thread) -> list[int]:
    order = sorted(range(len(thread.comments)), key=lambda i: -len(thread.comments[i].text))
    return order[:K]


def most_replies(thread: Thread) -> list[int]:
    order = sorted(range(len(thread.comments)), key=lambda i: -(thread.comments[i].replies or 0))
    return order[:K]


def gain(comment: Comment) -> float:
    return math.log1p(max(comment.score or 0.0, 0.0))


def ndcg(thread: Thread, picks: Sequence[int]) -> float:
    gains = [gain(c) for c in thread.comments]
    ideal = sorted(gains, reverse=True)[:K]
    idcg = sum(g / math.log2(r + 2) for r, g in enumerate(ideal))
    dcg = sum(gains[i] / math.log2(r + 2) for r, i in enumerate(picks[:K]))
    return dcg / idcg if idcg else 0.0


def precision(thread: Thread, picks: Sequence[int]) -> float:
    scores = [c.score or 0.0 for c in thread.comments]
    top = set(sorted(range(len(scores)), key=lambda i: -scores[i])[:TOP])
    return len(top & set(picks[:K])) / K


def evaluate(threads: Sequence[Thread], picker: Picker) -> tuple[float, float]:
    picks = [picker(t) for t in threads]
    return (
        statistics.mean(ndcg(t, p) for t, p in zip(threads, picks, strict=True)),
        statistics.mean(precision(t, p) for t, p in zip(threads, picks, strict=True)),
    )


def evaluate_random(threads: Sequence[Thread], draws: int = 50) -> tuple[float, float]:
    rng = random.Random(20261127)
    results = []
    for _ in range(draws):

        def pick(thread: Thread) -> list[int]:
            return rng.sample(range(len(thread.comments)), min(K, len(thread.comments)))

        results.append(evaluate(threads, pick))
    return statistics.mean(r[0] for r in results), statistics.mean(r[1] for r in results)


def tune(threads: Sequence[Thread]) -> Weights:
    """Grid search over the rule's weights on the tuning threads; the best by NDCG@3."""
    best: tuple[float, Weights] = (-1.0, WEIGHTS)
    grid = itertools.product(
        (0.5, 1.0, 2.0), (0.0, 0.5, 1.0), (0.5, 1.0, 2.0), (0.3, 0.6, 1.2), (0.0, 0.3)
    )
    for replies, top_level, early, substance, relevance in grid:
        weights = replace(
            WEIGHTS,
            replies=replies,
            top_level=top_level,
            early=early,
            substance=substance,
            relevance=relevance,
        )
        score = evaluate(threads, rule(weights))[0]
        if score > best[0]:
            best = (score, weights)
    print(f"best tuning NDCG@3 {best[0]:.3f} with {best[1]}")
    return best[1]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tune", action="store_true", help="search weights on the tuning part")
    args = parser.parse_args(argv)
    if not (CORPUS / "comments").is_dir():
        print(f"corpus not found at {CORPUS} (set DIGEST_CORPUS)", file=sys.stderr)
        return 2
    threads = load_threads(CORPUS)
    tuning = [t for t in threads if not t.held_out]
    held = [t for t in threads if t.held_out]
    if args.tune:
        tune(tuning)
        return 0
    for label, part in (("held-out", held), ("tuning", tuning)):
        count = sum(len(t.comments) for t in part)
        print(
            f"\n{label}: {len(part)} threads, {count} comments: {', '.join(t.name for t in part)}"
        )
        rows = [
            ("digest rule (votes hidden)", evaluate(part, rule())),
            ("digest rule, text and time only", evaluate(part, rule(flat=True))),
            ("chronological first 3", evaluate(part, chronological)),
            ("longest 3", evaluate(part, longest)),
            ("random 3 (mean of 50)", evaluate_random(part)),
            ("most replies", evaluate(part, most_replies)),
        ]
        print(f"| method | NDCG@3 | precision@3 (top-{TOP} voted) |")
        print("| --- | --- | --- |")
        for name, (n, p) in rows:
            print(f"| {name} | {n:.3f} | {p:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
