"""Time and peak memory of one `digest build` over 200, 2,000 and 5,000 candidate articles.

Run by hand from the repository root: `python -m bench.scale` (`--tree DIR` runs the
digest found in DIR; `--sizes 200 2000` picks the sizes). Feeds are local files of
100 full-text items each and `max_stories` is the number of articles, so every
article is summarised and offered to the email's size budget. Peak memory is the
largest sum of resident memory over the build process and its children, sampled
every 20 ms.
"""

from __future__ import annotations

import argparse
import os
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
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
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


def measure(articles: int, tree: Path) -> tuple[float, float, int]:
    """(wall seconds, peak MB, stories in the issue) of one cold build."""
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
        done.set()
        sampler.join()
        if process.returncode:
            raise SystemExit(f"build failed ({process.returncode}): {out.decode()}{err.decode()}")
        issue = next((folder / "out").glob("*/issue.json"))
        stories = issue.read_text().count('"summary"')
        return seconds, peak / 1024, stories


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tree", type=Path, default=ROOT, help="checkout whose digest to run")
    parser.add_argument("--sizes", type=int, nargs="*", default=[200, 2000, 5000])
    args = parser.parse_args()
    tree = args.tree.resolve()
    print(f"digest under test: {tree}")
    print(f"{'articles':>8} {'wall s':>8} {'ms/story':>9} {'peak MB':>8} {'in email':>8}")
    for articles in args.sizes:
        seconds, peak, stories = measure(articles, tree)
        per = 1000 * seconds / articles
        print(f"{articles:>8} {seconds:>8.1f} {per:>9.1f} {peak:>8.0f} {stories:>8}", flush=True)


if __name__ == "__main__":
    main()
