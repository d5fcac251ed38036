"""How well the comment rule picks what readers valued: NDCG@3 against hidden votes.

Run by hand from the repository root: `python -m bench.comments [--tune]`.

Threads: the real Reddit and Discourse threads under `comments/` in the corpus
(`$DIGEST_CORPUS`, default ../shared/corpus), read through digest's own source
parsers, plus the Reddit threads of `comments/h4-threads.jsonl` that are not
among them (flattened records with parent links and file order for time).

Votes are hidden from the ranker (score, and the served "best" order: threads
are presented oldest first). Every method picks 3 from the same pool, the
comments digest's filters keep (removed, spam and abusive ones out), so the
figures measure ranking; the filters have their own tests. Picks are scored
against the real votes:

- NDCG@3, gain = log(1 + votes) (negative votes count 0), ideal = the three
  most voted comments of the pool;
- precision@3 against the 5 most voted comments of the pool (all comments tied
  with the fifth count; comments without a vote never do).

A thread whose pool has no voted comment says nothing and is left out.

Methods: digest's rule (every signal but votes), the rule on text and time
only (no reply counts or structure, as in a flat WordPress RSS feed), the
baselines chronological first 3, longest 3, random 3 (mean of 50 draws) and
most replies; and, for reference only, the rule with the votes visible as in
production (not a blind test). Threads are split once (a fixed list) into a
tuning part and a held-out part; the tables show the held-out part first, and
`--tune` searches the rule's weights on the tuning part only.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import random
import re
import statistics
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from digest.comments import ranked, showable
from digest.comments.filters import DEFAULT_ABUSE
from digest.comments.ranking import WEIGHTS, CommentWeights
from digest.comments.sources import discourse, finish, reddit
from digest.models import Comment, Fetched

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("DIGEST_CORPUS", REPO.parent / "shared" / "corpus"))
K = 3
TOP = 5
RECORDED = datetime(2026, 1, 1, tzinfo=UTC)
_GONE = {"[deleted]", "[removed]"}
# Fixed split, chosen once by alternating the sorted thread names per platform.
HELD_OUT = {
    "reddit-announcements-n49rw",
    "reddit-funny-3hahrw",
    "reddit-iama-z1c9z",
    "reddit-pics-fjn0j9",
    "reddit-python-6302cj",
    "discourse-criticalfallibilism-t_2144",
    "reddit-askreddit-ablzuq",
    "reddit-pics-vtvuk",
}
# Threads of h4-threads.jsonl not among the raw files: submission id -> name.
EXTRA = {
    "t3_6wmniq": "reddit-askreddit-6wmniq",
    "t3_ablzuq": "reddit-askreddit-ablzuq",
    "t3_haucpf": "reddit-pics-haucpf",
    "t3_vtvuk": "reddit-pics-vtvuk",
}


@dataclass(frozen=True)
class Thread:
    name: str
    title: str
    comments: tuple[Comment, ...]  # votes as recorded, oldest first
    pool: tuple[int, ...]  # positions of the comments the filters keep

    @property
    def held_out(self) -> bool:
        return self.name in HELD_OUT


def load_threads(corpus: Path) -> list[Thread]:
    """Every thread of the corpus with a voted comment the filters keep."""
    folder = corpus / "comments"
    raw: list[tuple[str, str, Sequence[Comment]]] = []
    for path in sorted(folder.glob("reddit-*.json")):
        fetched = Fetched(
            path.name, "https://www.reddit.com/", path.read_bytes(), "application/json"
        )
        raw.append((path.stem, _reddit_title(path), reddit.parse(fetched).comments))
    topics: dict[str, dict[str, Comment]] = {}
    for path in sorted(folder.glob("discourse-*_posts*.json")):
        topic = path.stem.split("_posts")[0]
        fetched = Fetched(
            path.name, "https://discuss.example/", path.read_bytes(), "application/json"
        )
        for c in discourse.parse(fetched).comments:
            topics.setdefault(topic, {})[c.id or ""] = c
    raw += [(topic, "", tuple(by_id.values())) for topic, by_id in topics.items()]
    raw += list(_extra_threads(folder / "h4-threads.jsonl"))
    threads = [_thread(name, title, comments) for name, title, comments in raw]
    return [t for t in threads if any((t.comments[i].score or 0) > 0 for i in t.pool)]


def _thread(name: str, title: str, comments: Sequence[Comment]) -> Thread:
    present = [c for c in comments if c.text.strip() not in _GONE and c.author not in _GONE]
    # Stable: undated comments keep their recorded (oldest-first) order.
    present.sort(key=lambda c: c.published.timestamp() if c.published else 0.0)
    pool = tuple(i for i, _ in showable(present, title, DEFAULT_ABUSE))
    return Thread(name, title, tuple(present), pool)


def _extra_threads(path: Path) -> Iterator[tuple[str, str, tuple[Comment, ...]]]:
    if not path.is_file():
        return
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        key = next((k for k in EXTRA if k in record.get("origin", "")), None)
        if key is None:
            continue
        comments = (
            Comment(
                author=r["author"],
                text=r["text"],
                score=float(r["score"]),
                id=r["id"],
                parent=r["parent"],
                source="reddit",
            )
            for r in record["comments"]
        )
        # As a source parser does: depth and reply counts from the parent links.
        yield EXTRA[key], record.get("title", ""), finish(comments).comments


def _reddit_title(path: Path) -> str:
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
            c = replace(c, replies=None, parent=None, depth=0, reply_to=None)
        out.append(c)
    return out


Picker = Callable[[Thread], list[int]]


def rule(weights: CommentWeights = WEIGHTS, *, flat: bool = False, votes: bool = False) -> Picker:
    def pick(thread: Thread) -> list[int]:
        shown = list(thread.comments) if votes else hidden(thread.comments, flat=flat)
        # The votes were recorded long after the threads ended: all of them settled.
        best = ranked(shown, article=thread.title, weights=weights, limit=K, now=RECORDED)
        return [position for position, _ in best]

    return pick


def chronological(thread: Thread) -> list[int]:
    return list(thread.pool[:K])


def longest(thread: Thread) -> list[int]:
    return sorted(thread.pool, key=lambda i: -len(thread.comments[i].text))[:K]


def most_replies(thread: Thread) -> list[int]:
    return sorted(thread.pool, key=lambda i: -(thread.comments[i].replies or 0))[:K]


def gain(comment: Comment) -> float:
    return math.log1p(max(comment.score or 0.0, 0.0))


def ndcg(thread: Thread, picks: Sequence[int]) -> float:
    ideal = sorted((gain(thread.comments[i]) for i in thread.pool), reverse=True)[:K]
    idcg = sum(g / math.log2(r + 2) for r, g in enumerate(ideal))
    dcg = sum(gain(thread.comments[i]) / math.log2(r + 2) for r, i in enumerate(picks[:K]))
    return dcg / idcg


def precision(thread: Thread, picks: Sequence[int]) -> float:
    votes = {i: thread.comments[i].score or 0.0 for i in thread.pool}
    ordered = sorted(votes.values(), reverse=True)
    fifth = max(ordered[min(TOP, len(ordered)) - 1], math.ulp(0.0))
    top = {i for i, v in votes.items() if v >= fifth}
    return len(top & set(picks[:K])) / min(K, len(top))


def evaluate(threads: Sequence[Thread], picker: Picker) -> tuple[float, float]:
    picks = [picker(t) for t in threads]
    return (
        statistics.mean(ndcg(t, p) for t, p in zip(threads, picks, strict=True)),
        statistics.mean(precision(t, p) for t, p in zip(threads, picks, strict=True)),
    )


def evaluate_random(threads: Sequence[Thread], draws: int = 50) -> tuple[float, float]:
    rng = random.Random(20261127)

    def pick(thread: Thread) -> list[int]:
        return rng.sample(thread.pool, min(K, len(thread.pool)))

    results = [evaluate(threads, pick) for _ in range(draws)]
    return statistics.mean(r[0] for r in results), statistics.mean(r[1] for r in results)


def objective(threads: Sequence[Thread], weights: CommentWeights) -> float:
    """What tuning maximises: NDCG@3 + precision@3, plus half of both without structure."""
    full = evaluate(threads, rule(weights))
    flat = evaluate(threads, rule(weights, flat=True))
    return sum(full) + 0.5 * sum(flat)


def tune(threads: Sequence[Thread]) -> CommentWeights:
    """Grid search over the weights of the vote-free signals on the tuning threads.

    The author signal is searched after the grid, with the others at their best
    (few threads have the author taking part).
    """
    grid = itertools.product(
        (0.0, 1.0, 2.0), (0.0, 0.5, 1.0), (0.0, 0.5, 1.0), (0.5, 1.0, 2.0), (0.3, 0.6, 1.0, 1.5)
    )
    best: tuple[float, CommentWeights] = (-1.0, WEIGHTS)
    for people, replies, top_level, early, substance in grid:
        weights = replace(
            WEIGHTS,
            people=people,
            replies=replies,
            top_level=top_level,
            early=early,
            substance=substance,
        )
        score = objective(threads, weights)
        if score > best[0] + 1e-9:
            best = (score, weights)
    for author in (0.0, 0.5, 1.0, 2.0):
        weights = replace(best[1], author=author)
        score = objective(threads, weights)
        if score > best[0] + 1e-9:
            best = (score, weights)
    print(f"shipped weights: objective {objective(threads, WEIGHTS):.3f} with {WEIGHTS}")
    print(f"best of the grid: objective {best[0]:.3f} with {best[1]}")
    return best[1]


def table(label: str, part: Sequence[Thread]) -> None:
    count = sum(len(t.pool) for t in part)
    print(f"\n{label}: {len(part)} threads, {count} comments in the pools")
    rows = [
        ("digest rule (votes hidden)", evaluate(part, rule())),
        ("digest rule, text and time only", evaluate(part, rule(flat=True))),
        ("chronological first 3", evaluate(part, chronological)),
        ("longest 3", evaluate(part, longest)),
        ("random 3 (mean of 50)", evaluate_random(part)),
        ("most replies", evaluate(part, most_replies)),
        ("(reference) digest rule, votes visible", evaluate(part, rule(votes=True))),
    ]
    print(f"| method | NDCG@3 | precision@3 (top-{TOP} voted) |")
    print("| --- | --- | --- |")
    for name, (n, p) in rows:
        print(f"| {name} | {n:.3f} | {p:.3f} |")


def per_thread(part: Sequence[Thread]) -> None:
    print("\nNDCG@3 per held-out thread (rule / text and time / chronological / most replies):")
    for t in part:
        figures = [
            ndcg(t, picker(t)) for picker in (rule(), rule(flat=True), chronological, most_replies)
        ]
        print(f"  {t.name:40} {len(t.pool):5} " + " ".join(f"{f:.3f}" for f in figures))


def opens_with_earlier_words(thread: Thread, position: int) -> bool:
    """Whether the pick's first sentence is mostly (60 % of its word 4-grams) in an earlier
    comment by someone else: another reader's words shown as the commenter's."""
    comment = thread.comments[position]
    first = re.split(r"(?<=[.!?])\s+", comment.text.strip(), maxsplit=1)[0]
    grams = _grams(first)
    if len(grams) < 3:
        return False
    for earlier in thread.comments[:position]:  # oldest first
        if earlier.author != comment.author:
            shared = len(grams & _grams(earlier.text))
            if shared / len(grams) >= 0.6:
                return True
    return False


def _grams(text: str) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.casefold())
    return {tuple(words[i : i + 4]) for i in range(len(words) - 3)}


def quoting_table(threads: Sequence[Thread]) -> None:
    print("\nPicks opening with an earlier reader's words (every thread, 3 picks each):")
    for name, picker in (("votes hidden", rule()), ("votes visible", rule(votes=True))):
        picks = [(t, i) for t in threads for i in picker(t)]
        bad = sum(opens_with_earlier_words(t, i) for t, i in picks)
        print(f"  {name}: {bad} of {len(picks)}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
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
    table("held-out", held)
    per_thread(held)
    table("tuning", tuning)
    quoting_table(threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
