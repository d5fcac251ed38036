"""Time and peak memory of one `digest build` over 200, 2,000 and 5,000 candidate articles.

Run by hand from the repository root: `python -m bench.scale` (`--tree DIR` runs the
digest found in DIR; `--sizes 200 2000` picks the sizes). Feeds are local files of
100 full-text items each and `max_stories` is the number of articles, so every
article is summarised and offered to the email's size budget. Peak memory is the
largest sum of proportional resident memory (Pss) over the build process and its
children, sampled every 20 ms. Then one huge article (1.2 MB of distinct sentences by default) is
summarised in a fresh process, with its time and peak memory.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

from bench.newsroom import Item, _rss, utc_now

ROOT = Path(__file__).resolve().parent.parent
PER_FEED = 100


def _rss_kb(pid: int) -> int:
    """Proportional resident memory (Pss): pages shared with the forked workers are
    split between them instead of counted once per process, as VmRSS would."""
    for path, key in ((f"/proc/{pid}/smaps_rollup", "Pss:"), (f"/proc/{pid}/status", "VmRSS:")):
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith(key):
                        return int(line.split()[1])
        except OSError:
            continue
    return 0


def _children(pid: int) -> list[int]:
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return found


def tree_rss_kb(pid: int) -> int:
    """Resident memory of a process and all its descendants, in kB."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += _rss_kb(current)
        todo += _children(current)
    return total


def write_feeds(folder: Path, articles: int) -> list[Path]:
    now = utc_now()
    paths = []
    for f in range((articles + PER_FEED - 1) // PER_FEED):
        count = min(PER_FEED, articles - f * PER_FEED)
        items = [
            Item(
                index=f * PER_FEED + i,
                slug=f"f{f}-s{i}",
                title=f"Story {f * PER_FEED + i} from feed {f}",
                published=now - timedelta(hours=1 + (i + f / 1000) * 0.2),
            )
            for i in range(count)
        ]
        path = folder / f"feed-{f}.xml"
        path.write_text(_rss(f"https://site{f}.example", f"Feed {f}", items))
        paths.append(path)
    return paths


def measure(articles: int, tree: Path) -> tuple[float, float, float, int]:
    """(wall seconds, CPU seconds, peak MB, stories in the issue) of one cold build."""
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        feeds = write_feeds(folder, articles)
        lines = [
            "[newsletter]",
            'title = "Scale"',
            f"max_stories = {articles}",
            "lookback_days = 0",
            "[state]",
            'path = "state.sqlite"',
        ]
        for path in feeds:
            lines += ["[[feeds]]", f'url = "{path.name}"', 'full_text = "never"']
        (folder / "config.toml").write_text("\n".join(lines) + "\n")
        env = {**os.environ, "PYTHONPATH": str(tree)}
        command = [sys.executable, "-m", "digest", "build", "--config", "config.toml", "-o", "out"]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        peak = 0
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, tree_rss_kb(process.pid))
                time.sleep(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        out, err = process.communicate()
        seconds = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        done.set()
        sampler.join()
        if process.returncode:
            raise SystemExit(f"build failed ({process.returncode}): {out.decode()}{err.decode()}")
        issue = next((folder / "out").glob("*/issue.json"))
        stories = issue.read_text().count('"summary"')
        return seconds, cpu, peak / 1024, stories


ARTICLE = """
import random, resource, sys, time
from digest.text.summarise import summarise
rng = random.Random(7)
vocabulary = ["".join(rng.choices("abcdefghijklmnoprstuvw", k=rng.randint(3, 9)))
              for _ in range(20000)]
paragraphs, total = [], 0
while total < int(sys.argv[1]):
    words = [rng.choices(vocabulary, k=rng.randint(8, 22)) for _ in range(5)]
    paragraph = " ".join(w[0].capitalize() + " " + " ".join(w[1:]) + "." for w in words)
    paragraphs.append(paragraph)
    total += len(paragraph) + 1
start = time.perf_counter()
summary = summarise(paragraphs, "en", 3, title="A very long article", max_words=75)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{seconds:.2f} {peak:.0f} {len(summary)}")
"""


def huge_article(size: int, tree: Path, timeout: float) -> str:
    """Summarise one article of `size` characters in a fresh process: time and peak RSS."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    try:
        done = subprocess.run(
            [sys.executable, "-c", ARTICLE, str(size)],
            env=env,
            cwd=tempfile.gettempdir(),  # `-c` puts the working folder first on the path
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"not finished after {timeout:.0f} s"
    if done.returncode:
        return f"failed: {done.stderr.strip().splitlines()[-1:]}"
    seconds, peak, sentences = done.stdout.split()
    return f"{seconds} s, peak {peak} MB, {sentences} sentences"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tree", type=Path, default=ROOT, help="checkout whose digest to run")
    parser.add_argument("--sizes", type=int, nargs="*", default=[200, 2000, 5000])
    parser.add_argument(
        "--article-kb", type=int, nargs="*", default=[1200], help="huge articles to summarise"
    )
    parser.add_argument("--timeout", type=float, default=300, help="per huge article")
    args = parser.parse_args()
    tree = args.tree.resolve()
    load = os.getloadavg()[0]
    print(f"digest under test: {tree}  (load average {load:.1f} on {os.cpu_count()} cores)")
    print(f"{'articles':>8} {'wall s':>7} {'cpu s':>7} {'cpu ms/story':>12} {'peak MB':>8}")
    for articles in args.sizes:
        seconds, cpu, peak, stories = measure(articles, tree)
        assert stories == articles, stories
        per = 1000 * cpu / articles
        print(f"{articles:>8} {seconds:>7.1f} {cpu:>7.1f} {per:>12.1f} {peak:>8.0f}", flush=True)
    for kb in args.article_kb:
        result = huge_article(kb * 1000, tree, args.timeout)
        print(f"one {kb} KB article summarised: {result}", flush=True)


if __name__ == "__main__":
    main()
