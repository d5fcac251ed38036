"""One build, top to bottom: collect → select → stories → compose → publish → record.

`digest build` and the scheduler both call `build`, so a scheduled issue is
the same as one built by hand. The network is touched only while feeds and
stories are gathered (`stories.py` makes one story; `prefetch.py` starts its
requests as soon as its feed is parsed); the CPU-bound work runs in `workers`;
the disk is touched only by `publish` and the store's record.

Per-item isolation (digest/isolate.py) holds at every level: an entry that
cannot be read costs that entry (parse_feed), a comment that cannot be read
costs that comment (each comment source), and anything that goes wrong while
making one story costs that story; each is one warning naming its URL, in the
report and in issue.json's `warnings`. URLs found in feeds are fetched under
the fetch policy (digest/collect/policy.py): a story whose page is refused is
left out, so nothing of a private address reaches the issue.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Protocol, TypeVar

import httpx

from digest import isolate
from digest import select as selection
from digest.build.mend import mend
from digest.build.prefetch import Ahead
from digest.build.stories import Network, isolated, network, story
from digest.build.workers import Workers, processes_for
from digest.collect.feeds import read_feed
from digest.collect.fetcher import Fetcher
from digest.collect.policy import FoundIn
from digest.config import Config, FeedSettings
from digest.errors import DigestError
from digest.models import Entry, Feed, FeedReport, FeedStatus, Fetched, Issue, Story
from digest.store import State
from digest.text import boilerplate

logger = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")


class Outcome(StrEnum):
    WRITTEN = "written"
    NOTHING_NEW = "nothing_new"
    FEEDS_FAILED = "feeds_failed"


@dataclass(frozen=True)
class BuildResult:
    """What one build did: its outcome, the issue and its folder when one was written,
    what each feed returned and every warning for the report."""

    outcome: Outcome
    feeds: tuple[FeedReport, ...]
    warnings: tuple[str, ...]
    seconds: float
    issue: Issue | None = None
    folder: Path | None = None


class Progress(Protocol):
    """What the CLI shows while a build runs."""

    def start(self, stage: str, total: int) -> None: ...
    def advance(self, stage: str) -> None: ...


class _Silent:
    def start(self, stage: str, total: int) -> None:
        pass

    def advance(self, stage: str) -> None:
        pass


def build(
    config: Config,
    store: State,
    output_dir: Path,
    *,
    now: datetime,
    issue_id: str,
    strict: bool = False,
    transport: httpx.AsyncBaseTransport | None = None,
    progress: Progress | None = None,
    local_images: Mapping[str, Path] | None = None,
    workers: int | None = None,
) -> BuildResult:
    """Build the next issue into `output_dir/<issue_id>/` when there is something new.

    `strict` fails the build as soon as any feed failed, before any story is
    fetched. `local_images` maps image URLs to files copied beside the issue
    (the offline demo). `workers` is the number of worker processes for parsing and
    summarising (0: threads; None: chosen from the number of feeds).
    """
    started = time.monotonic()
    failed_feeds: list[str] = []
    warnings: list[str] = []  # per item: entries, pages, threads, comments, stories
    rendering: list[str] = []
    progress = progress or _Silent()
    if store.where != ":memory:":  # a state in memory (the demo) has no past to mend
        warnings.extend(mend(store, config, output_dir))

    def result(outcome: Outcome, feeds: tuple[FeedReport, ...], **done: object) -> BuildResult:
        seconds = time.monotonic() - started
        every = (*failed_feeds, *warnings, *rendering)
        return BuildResult(outcome, feeds, every, seconds, **done)  # type: ignore[arg-type]

    fresh_feeds: list[tuple[Fetched, str | None, list[Entry]]] = []
    deadline = started + config.fetch.build_timeout
    late = f"the build's time limit ([fetch] build_timeout = {config.fetch.build_timeout:g} s)"

    def late_feed(feed: FeedSettings) -> Feed:
        return Feed(url=feed.url, status=FeedStatus.ERROR, error=f"not read within {late}")

    def late_story(entry: Entry) -> Story | None:
        warnings.append(f"{entry.url}: story left out: not made within {late}")
        return None

    summaries: list[tuple[str, tuple[str, ...]]] = []
    twins: dict[str, tuple[str, ...]] = {}  # a story's duplicates, remembered as sent with it

    async def gather(pool: Workers) -> tuple[tuple[FeedReport, ...], list[Story] | None]:
        # The renderer's modules (premailer, cssutils, mjml: ~0.3 s) load in a thread
        # while the event loop waits on the network, instead of before or after it.
        threading.Thread(target=_import, args=("digest.issues.publish",), daemon=True).start()
        async with Fetcher(config.fetch, transport=transport, base_dir=config.base_dir) as fetcher:
            settings = {f.url: f for f in config.feeds}
            found_in: dict[str, FoundIn] = {}
            seen: set[str] = set()

            def requests(entry: Entry) -> Network:
                feed = settings[entry.feed_url]
                return network(fetcher, pool, feed, entry, found_in[entry.feed_url], warnings)

            ahead = Ahead(config, now, requests)

            async def collect(feed: FeedSettings) -> Feed:
                collected = await _collect(fetcher, store, pool, feed, fresh_feeds)
                found_in[feed.url] = FoundIn(feed.url, collected.address)
                # The SQLite connection stays on this (the event loop's) thread.
                seen.update(store.seen(e.key for e in collected.entries))
                ahead.offer(collected.entries, seen)
                return collected

            # Feeds may take half the time limit: what they carry needs the rest.
            feeds_deadline = started + config.fetch.build_timeout / 2
            feeds = await _each(config.feeds, collect, progress, "feeds", feeds_deadline, late_feed)
            reports = tuple(_report(f) for f in feeds)
            failed_feeds.extend(f"{r.url}: {r.error}" for r in reports if r.error)
            warnings.extend(w for f in feeds for w in f.warnings)
            failed = [r for r in reports if r.status is FeedStatus.ERROR]
            if len(failed) == len(reports) or (strict and failed):
                ahead.cancel_all()
                return reports, None
            chosen = select(feeds, store, config, now)
            twins.update(chosen.twins)
            entries = chosen.entries
            ahead.keep_only(entries)
            # What most of a feed's items say is its boilerplate, not news: learnt, on the
            # workers, for the feeds whose stories made the issue.
            wanted = [f for f in feeds if f.url in {e.feed_url for e in entries}]
            learnt = await asyncio.gather(
                *(pool.run(boilerplate.repeated, f.entries) for f in wanted)
            )
            repeated = {f.url: found for f, found in zip(wanted, learnt, strict=True)}
            made = await _each(
                entries,
                lambda e: isolated(
                    e,
                    story(
                        store,
                        pool,
                        config,
                        settings[e.feed_url],
                        e,
                        ahead.take(e),
                        repeated.get(e.feed_url, frozenset()),
                        summaries,
                        warnings,
                        now,
                    ),
                    warnings,
                ),
                progress,
                "stories",
                deadline,
                late_story,
            )
            # Two redirector links may have led to one article page: one story.
            stories, folded = selection.fold_stories([s for s in made if s is not None])
            for key, keys in folded.items():
                twins[key] = (*twins.get(key, ()), *keys)
            return reports, stories

    try:
        with Workers(processes_for(len(config.feeds)) if workers is None else workers) as pool:
            reports, stories = asyncio.run(gather(pool))
    finally:
        # Every state write of the gathering in one transaction (one fsync, not hundreds),
        # kept even when a story failed the build.
        with store.transaction():
            for fetched, title, entries in fresh_feeds:
                store.remember_feed(fetched, title, entries)
            store.remember_summaries(summaries)
    if stories is None:
        return result(Outcome.FEEDS_FAILED, reports)
    if not stories:
        return result(Outcome.NOTHING_NEW, reports)
    issue = Issue(
        id=issue_id,
        title=config.newsletter.title,
        generated_at=now,
        stories=tuple(stories),
        feeds=reports,
        warnings=tuple(isolate.label(w) for w in warnings),
        language=_issue_language(config, stories),
    )
    from digest.issues.publish import publish, write_archive  # loaded while the network ran

    folder, rendered = publish(issue, config, output_dir, local_images, archive=False)
    # The size budget may have trimmed comments or stories: the report says so.
    rendering.extend(rendered.warnings)
    # Stories are remembered only once the issue is on disk: a crash before
    # this line leaves them to be picked again, never lost; a crash after the
    # folder and before this line is mended by `reconcile` on the next start.
    sent = [(s.key, s.title, s.url) for s in issue.stories]
    sent += [(twin, s.title, s.url) for s in issue.stories for twin in twins.get(s.key, ())]
    store.record_issue(issue.id, sent)
    try:
        write_archive(output_dir, config)
    except DigestError as e:  # the issue is written: a stale archive is the next build's
        warnings.append(f"archive not refreshed: {e}")
    return result(Outcome.WRITTEN, reports, issue=issue, folder=folder)


def _issue_language(config: Config, stories: Sequence[Story]) -> str:
    """With `[newsletter] language = "auto"`, the language most stories are in."""
    if config.newsletter.language != "auto":
        return ""
    counts = Counter(s.language for s in stories if s.language)
    return counts.most_common(1)[0][0] if counts else "en"


def _import(module: str) -> None:
    try:
        importlib.import_module(module)
    except Exception:  # publish() imports it again and reports the failure there
        logger.debug("could not preload %s", module, exc_info=True)


def _report(feed: Feed) -> FeedReport:
    return FeedReport(
        url=feed.url,
        status=feed.status,
        title=isolate.valid_text(feed.title) if feed.title else None,
        error=isolate.label(feed.error) if feed.error else None,
        items=len(feed.entries),
    )


async def _each(
    items: Sequence[T],
    work: Callable[[T], Awaitable[R]],
    progress: Progress,
    stage: str,
    deadline: float,
    late: Callable[[T], R],
) -> list[R]:
    """Run `work` on every item concurrently (the Fetcher bounds the network), in order.

    What is unfinished at `deadline` (a `time.monotonic()` value) is cancelled and
    stands as `late(item)`: a hostile or stuck source costs its items, never the build.
    """
    progress.start(stage, len(items))

    async def one(item: T) -> R:
        try:
            return await work(item)
        finally:
            progress.advance(stage)

    tasks = [asyncio.ensure_future(one(item)) for item in items]
    if not tasks:
        return []
    _, unfinished = await asyncio.wait(tasks, timeout=max(0.0, deadline - time.monotonic()))
    for task in unfinished:
        task.cancel()
    await asyncio.gather(*unfinished, return_exceptions=True)
    return [
        late(item) if task in unfinished else task.result()
        for item, task in zip(items, tasks, strict=True)
    ]


async def _collect(
    fetcher: Fetcher,
    store: State,
    workers: Workers,
    settings: FeedSettings,
    fresh: list[tuple[Fetched, str | None, list[Entry]]],
) -> Feed:
    """One feed, fetched conditionally and parsed; any failure is this feed's alone.

    A 304 reuses the entries parsed last time: stories left out of earlier issues
    by max_stories are still candidates, and `seen` filters the rest. Newly parsed
    feeds are appended to `fresh`, for the state file.
    """
    url = settings.url
    skipped: list[str] = []
    try:
        fetched = await fetcher.fetch(url, store.validators(url))
        status = FeedStatus.OK
        parsed: tuple[str | None, list[Entry]] | None = None
        if fetched.not_modified:
            status = FeedStatus.NOT_MODIFIED
            parsed = store.parsed_feed(url)
            if parsed is None:
                cached = store.cached_response(url)  # kept by an older digest: parse it
                if cached is not None:
                    fetched = replace(
                        cached, validators=fetched.validators, address=fetched.address
                    )
                else:  # nothing kept to reuse: ask for the whole feed again
                    fetched = await fetcher.fetch(url)
                    status = FeedStatus.OK
        if parsed is None:
            title, read, skipped = await workers.run(read_feed, fetched)
            parsed = title, read
            fresh.append((fetched, *parsed))
        title, entries = parsed
    except DigestError as e:
        logger.warning("%s: %s", url, e)
        return Feed(url=url, status=FeedStatus.ERROR, error=str(e))
    except Exception as e:  # a bug or a library crash must still cost only this feed
        logger.exception("%s: unexpected failure", url)
        return Feed(url=url, status=FeedStatus.ERROR, error=f"unexpected error: {e!r}")
    if settings.title:
        entries = [replace(e, source=settings.title) for e in entries]
    if settings.language:
        entries = [replace(e, language=settings.language) for e in entries]
    return Feed(
        url=url,
        status=status,
        title=settings.title or title,
        entries=tuple(entries),
        address=fetched.address,
        warnings=tuple(skipped),
    )


def select(
    feeds: Sequence[Feed], store: State, config: Config, now: datetime
) -> selection.Selection:
    """The issue's entries (digest/select/), given what earlier issues sent."""
    keys = [e.key for feed in feeds for e in feed.entries]
    return selection.choose(feeds, store.seen(keys), config, now)
