"""A whole `digest build` against a loopback newsroom, beside rss2email on the same feeds.

Run by hand from the repository root: `python -m bench.build` (`--tree DIR` runs the
digest found in DIR instead, e.g. an older checkout). The newsroom has 100 feeds of
20 items on 50 sites (127.0.0.2-51), every request answered after 100 ms; the
issue's 60 stories need 40 comment feeds and 20 article pages. Prints wall times and
the ratios the performance targets are stated in.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.newsroom import Newsroom, make_newsroom, utc_now

ROOT = Path(__file__).resolve().parent.parent
R2E = Path(sys.executable).with_name("r2e")


CPU: dict[str, float] = {}
"""CPU seconds (user + system, children included) of the last run of each label."""


def run(
    command: list[str], cwd: Path, tree: Path, label: str = ""
) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Run a command with `tree` first on the import path; return its wall time too."""
    env = {**os.environ, "PYTHONPATH": str(tree), "NO_COLOR": "1", "COLUMNS": "120"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if label:
        CPU[label] = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return seconds, done


def digest_config(folder: Path, feeds: list[str], stories: int) -> Path:
    lines = [
        "[newsletter]",
        'title = "Bench Insider"',
        f"max_stories = {stories}",
        "lookback_days = 7",
        "[state]",
        'path = "state.sqlite"',
        "[output]",
        'dir = "output"',
    ]
    for url in feeds:
        lines += ["[[feeds]]", f'url = "{url}"']
    path = folder / "config.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def rss2email(folder: Path, feeds: list[str], tree: Path) -> float:
    """`r2e run --no-send` over the feeds with its own config and data; its wall time."""
    config, data = folder / "r2e.cfg", folder / "r2e.json"
    outlines = "".join(
        f'<outline type="rss" text="f{n}" xmlUrl="{u}"/>' for n, u in enumerate(feeds)
    )
    opml = folder / "feeds.opml"
    opml.write_text(f'<?xml version="1.0"?><opml version="2.0"><body>{outlines}</body></opml>')
    base = [str(R2E), "-c", str(config), "-d", str(data)]
    for command in (["new", "bench@example.com"], ["opmlimport", str(opml)]):
        _, done = run(base + command, folder, tree)
        if done.returncode:
            raise SystemExit(f"r2e {command[0]} failed: {done.stderr.strip()}")
    seconds, done = run([*base, "run", "--no-send"], folder, tree, "r2e")
    if done.returncode:
        raise SystemExit(f"r2e run failed: {done.stderr.strip()[-400:]}")
    return seconds


def build_once(
    folder: Path, config: Path, tree: Path, label: str
) -> tuple[float, dict[str, int], int]:
    """One `digest build`; its wall time, feed statuses and story count."""
    before = set((folder / "output").glob("*/issue.json"))
    command = [sys.executable, "-m", "digest", "build", "--config", str(config)]
    seconds, done = run(command, folder, tree, label)
    if done.returncode not in (0, 3):
        raise SystemExit(f"digest build failed ({done.returncode}): {done.stdout}{done.stderr}")
    issues = set((folder / "output").glob("*/issue.json")) - before
    statuses: dict[str, int] = {}
    stories = 0
    for issue_path in issues:
        issue = json.loads(issue_path.read_text())
        stories = len(issue["stories"])
        for feed in issue["feeds"]:
            statuses[feed["status"]] = statuses.get(feed["status"], 0) + 1
    return seconds, statuses, stories


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tree", type=Path, default=ROOT, help="checkout whose digest to run")
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--port", type=int, default=8731)
    args = parser.parse_args()
    tree = args.tree.resolve()

    # Never from ROOT: `python -m` puts the working folder first on the import path.
    empty = Path(tempfile.mkdtemp())
    help_times = [run([sys.executable, "-m", "digest", "--help"], empty, tree)[0] for _ in range(3)]
    with tempfile.TemporaryDirectory() as demo_dir:
        demo, done = run(
            [sys.executable, "-m", "digest", "build", "--demo", "-o", "out"],
            Path(demo_dir),
            tree,
            "demo",
        )
        if done.returncode:
            raise SystemExit(f"digest build --demo failed: {done.stderr}")

    sites, feeds = make_newsroom(utc_now(), port=args.port)
    newsroom = Newsroom(sites, port=args.port, latency=args.latency)
    try:
        with tempfile.TemporaryDirectory() as work:
            folder = Path(work)
            r2e_seconds = rss2email(folder, feeds, tree)
            r2e_requests = newsroom.requests
            config = digest_config(folder, feeds, stories=60)
            newsroom.requests = 0
            cold, cold_status, cold_stories = build_once(folder, config, tree, "cold")
            cold_requests = newsroom.requests
            newsroom.requests = newsroom.not_modified = 0
            warm, warm_status, warm_stories = build_once(folder, config, tree, "warm")
    finally:
        newsroom.close()

    load = os.getloadavg()[0]
    print(f"digest under test: {tree}  (load average {load:.1f} on {os.cpu_count()} cores)")
    print(f"{'':24} {'wall s':>7} {'cpu s':>7}")
    print(f"{'digest --help':24} {min(help_times):7.2f}         best of 3")
    print(f"{'digest build --demo':24} {demo:7.2f} {CPU['demo']:7.2f}")
    print(f"{'r2e run --no-send':24} {r2e_seconds:7.2f} {CPU['r2e']:7.2f}  {r2e_requests} requests")
    print(
        f"{'cold digest build':24} {cold:7.2f} {CPU['cold']:7.2f}  {cold_requests} requests, "
        f"{cold_stories} stories, feeds {cold_status}"
    )
    print(
        f"{'warm rebuild':24} {warm:7.2f} {CPU['warm']:7.2f}  {newsroom.not_modified} answered "
        f"304, {warm_stories} stories, feeds {warm_status}"
    )
    print(f"cold / rss2email: {cold / r2e_seconds:.2f} (target <= 0.20)")
    print(f"warm rebuild:     {warm:.2f} s (target <= 1.5 s)")
    print(f"demo:             {demo:.2f} s (target <= 1.5 s)")
    print(f"--help:           {min(help_times):.2f} s (target < 0.3 s)")


if __name__ == "__main__":
    main()
