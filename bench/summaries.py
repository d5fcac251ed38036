"""How good and how fast the summarisers are: ROUGE against human references.

Run by hand from the repository root: `python -m bench.summaries` (needs the
`bench` extra: rouge-score). Reads `summaries/summaries.jsonl` and
`summaries/h4-news.jsonl` from the corpus (`$DIGEST_CORPUS`, default
../shared/corpus) and prints, per part (CNN/DailyMail, XSum, BBC), ROUGE-1,
ROUGE-2, ROUGE-L and ROUGE-Lsum F1 (rouge-score, Porter stemming on) and
articles per second for Lead-N, every sumy algorithm and digest's `auto`.

Articles are split once and for all by a hash of their id into a tuning half
and a held-out half; the table reports the held-out half, and `--tune`
searches `auto`'s weights on the tuning half only. Summary length follows the
references: 3 sentences for CNN/DailyMail highlights, 1 for XSum, and the
reference's own sentence count for the (extractive, long) BBC summaries. All
systems choose among the same standalone sentences; Lead-N takes the first N
sentences as split, with no filtering, as the classic baseline does.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # measure one core
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import hashlib
import itertools
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from digest.text.sentences import fingerprint, is_standalone, split_sentences, words
from digest.text.summarise import ALGORITHMS, SummaryWeights, summarise

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("DIGEST_CORPUS", REPO.parent / "shared" / "corpus"))
PARTS = ("CNN/DM", "XSum", "BBC")
CAP = 75


@dataclass(frozen=True)
class Article:
    id: str
    part: str
    title: str
    paragraphs: tuple[str, ...]
    reference: str
    count: int

    @property
    def held_out(self) -> bool:
        return hashlib.sha1(self.id.encode()).digest()[0] % 2 == 1


def load(corpus: Path) -> list[Article]:
    """Every article of both files, with its part and summary length."""
    articles = []
    for name in ("summaries.jsonl", "h4-news.jsonl"):
        path = corpus / "summaries" / name
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            rid = row["id"]
            part = "XSum" if "xsum" in rid else "BBC" if rid.startswith("bbc-") else "CNN/DM"
            reference = row["reference"].strip()
            lines = [s for s in reference.split("\n") if s.strip()]
            count = {"CNN/DM": 3, "XSum": 1}.get(part, len(lines))
            paragraphs = tuple(p.strip() for p in row["text"].split("\n") if p.strip())
            title = row.get("title") or ""
            articles.append(Article(rid, part, title, paragraphs, reference, count))
    return articles


def lead(article: Article, count: int) -> tuple[str, ...]:
    """The classic baseline: the first `count` sentences as split, unfiltered."""
    sentences = [s for p in article.paragraphs for s in split_sentences(p, "en")]
    return tuple(sentences[:count])


System = Callable[[Article], tuple[str, ...]]


def _algorithm(name: str) -> System:
    return lambda a: summarise(a.paragraphs, "en", a.count, title=a.title, algorithm=name)


def systems(weights: SummaryWeights) -> dict[str, System]:
    table: dict[str, System] = {"Lead-N": lambda a: lead(a, a.count)}
    for name in ALGORITHMS:
        if name == "auto":
            continue
        table[name] = _algorithm(name)
    table["auto (digest)"] = lambda a: summarise(
        a.paragraphs, "en", a.count, title=a.title, weights=weights
    )
    table[f"auto, {CAP}-word cap"] = lambda a: summarise(
        a.paragraphs, "en", a.count, title=a.title, max_words=CAP, weights=weights
    )
    return table


def evaluate(system: System, articles: Sequence[Article], scorer: object) -> dict[str, float]:
    """Mean F1 of each ROUGE variant, and articles per second of the system alone."""
    scores: dict[str, list[float]] = {"R-1": [], "R-2": [], "R-L": [], "R-Lsum": []}
    elapsed = 0.0
    outputs = []
    for article in articles:
        start = time.perf_counter()
        summary = system(article)
        elapsed += time.perf_counter() - start
        outputs.append(summary)
        result = scorer.score(article.reference, "\n".join(summary))  # type: ignore[attr-defined]
        for key, metric in (("R-1", "rouge1"), ("R-2", "rouge2"), ("R-L", "rougeL"),
                            ("R-Lsum", "rougeLsum")):  # fmt: skip
            scores[key].append(result[metric].fmeasure)
    figures = {k: 100 * statistics.fmean(v) for k, v in scores.items()}
    figures["art/s"] = len(articles) / elapsed if elapsed else float("inf")
    figures["_outputs"] = outputs  # type: ignore[assignment]
    return figures


def hygiene_problems(summaries: Iterable[tuple[str, ...]]) -> list[str]:
    """Summary sentences a reader should never see: fragments, captions, credits, repeats."""
    problems = []
    for summary in summaries:
        seen = set()
        for sentence in summary:
            if len(words(sentence)) < 6 or not is_standalone(sentence):
                problems.append(sentence)
            if fingerprint(sentence) in seen:
                problems.append(sentence)
            seen.add(fingerprint(sentence))
    return problems


def speed(articles: Sequence[Article], repeat: int = 3) -> tuple[float, int, float]:
    """Articles per second of `auto` on 600–1000-word articles: (rate, count, mean words)."""
    sample = [a for a in articles if 600 <= len(" ".join(a.paragraphs).split()) <= 1000]
    start = time.perf_counter()
    for _ in range(repeat):
        for article in sample:
            summarise(article.paragraphs, "en", 3, title=article.title, max_words=CAP)
    rate = repeat * len(sample) / (time.perf_counter() - start)
    mean = statistics.fmean(len(" ".join(a.paragraphs).split()) for a in sample)
    return rate, len(sample), mean


def tune(articles: Sequence[Article], scorer: object) -> SummaryWeights:
    """Grid search of `auto`'s weights on the tuning half of CNN/DM (mean of R-1, R-2, R-L).

    CNN/DM records carry no headline, so the title weight is left as it is.
    """
    grid = {
        "position": (2.0, 4.0, 8.0),
        "position_decay": (1.0, 1.5, 2.0, 3.0),
        "forward": (0.25, 0.5, 1.0),
        "backward": (-0.25, 0.0),
        "redundancy": (0.3, 0.7),
        "dangling": (0.2, 0.6),
    }
    cache: dict[tuple[str, tuple[str, ...]], float] = {}

    def rouge(article: Article, summary: tuple[str, ...]) -> float:
        # Many weightings pick the same sentences: score each distinct summary once.
        key = (article.id, summary)
        if key not in cache:
            r = scorer.score(article.reference, "\n".join(summary))  # type: ignore[attr-defined]
            cache[key] = (r["rouge1"].fmeasure + r["rouge2"].fmeasure + r["rougeL"].fmeasure) / 3
        return cache[key]

    best, best_score = SummaryWeights(), -1.0
    for values in itertools.product(*grid.values()):
        weights = replace(SummaryWeights(), **dict(zip(grid, values, strict=True)))
        score = 100 * statistics.fmean(
            rouge(a, summarise(a.paragraphs, "en", a.count, title=a.title, weights=weights))
            for a in articles
        )
        if score > best_score:
            best, best_score = weights, score
            print(f"  {score:6.2f}  {weights}", flush=True)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tune", action="store_true", help="search auto's weights (tuning half)")
    parser.add_argument("--split", choices=("held-out", "tuning", "all"), default="held-out")
    parser.add_argument("--parts", default=",".join(PARTS), help="comma-separated parts")
    parser.add_argument("--systems", default="", help="only systems whose name starts so")
    args = parser.parse_args()
    try:
        from rouge_score import rouge_scorer
    except ImportError:
        print("needs rouge-score: pip install -e '.[bench]'", file=sys.stderr)
        return 1
    articles = load(CORPUS)
    if not articles:
        print(f"no corpus at {CORPUS / 'summaries'} (set DIGEST_CORPUS)", file=sys.stderr)
        return 1
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"], use_stemmer=True)
    if args.tune:
        tuning = [a for a in articles if not a.held_out and a.part == "CNN/DM"]
        print(f"tuning on {len(tuning)} CNN/DM articles (the held-out half is never used)")
        print(f"best: {tune(tuning, scorer)}")
        return 0
    chosen = {
        "held-out": [a for a in articles if a.held_out],
        "tuning": [a for a in articles if not a.held_out],
        "all": articles,
    }[args.split]
    weights = SummaryWeights()
    all_outputs: list[tuple[str, ...]] = []
    for part in args.parts.split(","):
        subset = [a for a in chosen if a.part == part]
        if not subset:
            continue
        words_mean = statistics.fmean(len(" ".join(a.paragraphs).split()) for a in subset)
        counts = sorted({a.count for a in subset})
        n = counts[0] if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"
        print(f"\n{part}: {len(subset)} {args.split} articles, ~{words_mean:.0f} words, N = {n}")
        print(f"| system | R-1 | R-2 | R-L | R-Lsum | articles/s |\n|{' --- |' * 6}")
        for name, system in systems(weights).items():
            if args.systems and not name.startswith(tuple(args.systems.split(","))):
                continue
            f = evaluate(system, subset, scorer)
            print(f"| {name} | {f['R-1']:.2f} | {f['R-2']:.2f} | {f['R-L']:.2f} "
                  f"| {f['R-Lsum']:.2f} | {f['art/s']:.0f} |", flush=True)  # fmt: skip
            if name != "Lead-N":  # the baseline is unfiltered by definition
                all_outputs.extend(f["_outputs"])  # type: ignore[arg-type]
    rate, count, mean = speed([a for a in articles if a.part == "CNN/DM"])
    print(f"\nauto speed: {rate:.0f} articles/s on one core ({count} CNN/DM articles "
          f"of 600–1000 words, mean {mean:.0f})")  # fmt: skip
    problems = hygiene_problems(all_outputs)
    print(f"hygiene: {len(problems)} summary sentences under 6 words, junk or repeated "
          f"in {len(all_outputs)} summaries by digest (every algorithm)")  # fmt: skip
    for sentence in problems[:5]:
        print(f"  {sentence!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
