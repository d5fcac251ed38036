"""One build, top to bottom: collect → select → stories → compose → publish → record.

`digest build` and the scheduler both call `build`, so a scheduled issue is
the same as one built by hand. The network is touched only while feeds and
stories are gathered; the disk only by `publish` and the store's record.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, TypeVar

import httpx

from digest import comments
from digest.collect.feeds import parse_feed
from digest.collect.fetcher import PAGE_ACCEPT, Fetcher
from digest.config import CommentSettings, Config, FeedSettings
from digest.errors import DigestError
from digest.models import (
    Article,
    Comment,
    CommentThread,
    Entry,
    Feed,
    FeedReport,
    FeedStatus,
    Fetched,
    Issue,
    Story,
)
from digest.prefetch import Ahead, is_recent, newest_first
from digest.store import State
from digest.text import extract, languages, summarise
from digest.workers import Workers, processes_for

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
    warnings: list[str] = []
    progress = progress or _Silent()

    def result(outcome: Outcome, feeds: tuple[FeedReport, ...], **done: object) -> BuildResult:
        seconds = time.monotonic() - started
        return BuildResult(outcome, feeds, tuple(warnings), seconds, **done)  # type: ignore[arg-type]

    fresh_feeds: list[tuple[Fetched, str | None, list[Entry]]] = []
    summaries: list[tuple[str, tuple[str, ...]]] = []

    async def gather(workers: Workers) -> tuple[tuple[FeedReport, ...], list[Story] | None]:
        # The renderer's modules (premailer, cssutils, mjml: ~0.3 s) load in a thread
        # while the event loop waits on the network, instead of before or after it.
        threading.Thread(target=_import, args=("digest.issues.publish",), daemon=True).start()
        async with Fetcher(config.fetch, transport=transport, base_dir=config.base_dir) as fetcher:
            settings = {f.url: f for f in config.feeds}
            seen: set[str] = set()

            def network(entry: Entry) -> Awaitable[tuple[Article, CommentThread]]:
                feed = settings[entry.feed_url]
                return _network(fetcher, workers, feed, entry, warnings)

            ahead = Ahead(config, now, network)

            async def collect(feed: FeedSettings) -> Feed:
                collected = await _collect(fetcher, store, workers, feed, fresh_feeds)
                # The SQLite connection stays on this (the event loop's) thread.
                seen.update(store.seen(e.key for e in collected.entries))
                ahead.offer(collected.entries, seen)
                return collected

            feeds = await _each(config.feeds, collect, progress, "feeds")
            reports = tuple(_report(f) for f in feeds)
            warnings.extend(f"{r.url}: {r.error}" for r in reports if r.error)
            failed = [r for r in reports if r.status is FeedStatus.ERROR]
            if len(failed) == len(reports) or (strict and failed):
                ahead.cancel_all()
                return reports, None
            entries = select(feeds, store, config, now)
            ahead.keep_only(entries)
            stories = await _each(
                entries,
                lambda e: _story(
                    store, workers, config, settings[e.feed_url], e, ahead.take(e), summaries, now
                ),
                progress,
                "stories",
            )
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
    )
    from digest.issues.publish import publish  # loaded while the network was busy

    folder, rendered = publish(issue, config, output_dir, local_images)
    # The size budget may have trimmed comments or stories: the report says so.
    warnings.extend(rendered.warnings)
    # Stories are remembered only once the issue is on disk: a crash before
    # this line leaves them to be picked again, never lost.
    store.record_issue(issue.id, ((s.key, s.title, s.url) for s in issue.stories))
    return result(Outcome.WRITTEN, reports, issue=issue, folder=folder)


def _import(module: str) -> None:
    try:
        importlib.import_module(module)
    except Exception:  # publish() imports it again and reports the failure there
        logger.debug("could not preload %s", module, exc_info=True)


def _report(feed: Feed) -> FeedReport:
    return FeedReport(
        url=feed.url,
        status=feed.status,
        title=feed.title,
        error=feed.error,
        items=len(feed.entries),
    )


async def _each(
    items: Sequence[T],
    work: Callable[[T], Awaitable[R]],
    progress: Progress,
    stage: str,
) -> list[R]:
    """Run `work` on every item concurrently (the Fetcher bounds the network), in order."""
    progress.start(stage, len(items))

    async def one(item: T) -> R:
        try:
            return await work(item)
        finally:
            progress.advance(stage)

    return list(await asyncio.gather(*(one(item) for item in items)))


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
                    fetched = replace(cached, validators=fetched.validators)
                else:  # nothing kept to reuse: ask for the whole feed again
                    fetched = await fetcher.fetch(url)
                    status = FeedStatus.OK
        if parsed is None:
            parsed = await workers.run(parse_feed, fetched)
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
    return Feed(url=url, status=status, title=settings.title or title, entries=tuple(entries))


def select(feeds: Sequence[Feed], store: State, config: Config, now: datetime) -> list[Entry]:
    """New entries within the look-back window, newest first, one per story, capped."""
    candidates: dict[str, Entry] = {}
    for feed in feeds:
        for entry in feed.entries:
            candidates.setdefault(entry.key, entry)
    seen = store.seen(candidates)
    fresh = [e for key, e in candidates.items() if key not in seen and is_recent(e, config, now)]
    fresh.sort(key=functools.partial(newest_first, now=now))
    return fresh[: config.newsletter.max_stories]


async def _story(
    store: State,
    workers: Workers,
    config: Config,
    feed: FeedSettings,
    entry: Entry,
    network: Awaitable[tuple[Article, CommentThread]],
    summaries: list[tuple[str, tuple[str, ...]]],
    now: datetime,
) -> Story:
    article, thread = await network
    text = " ".join(article.paragraphs[:5])[: summarise.MAX_CHARS]
    language = languages.choose(entry.language, text, config.newsletter.language)
    count = feed.summary_sentences or config.summary.sentences
    algorithm = feed.summary_algorithm or config.summary.algorithm
    max_words = config.summary.max_words
    key = summarise.content_hash(
        article.paragraphs,
        language,
        count,
        title=entry.title,
        algorithm=algorithm,
        max_words=max_words,
    )
    # The cache is read here, on the event loop's thread; new summaries are written
    # together once every story is done.
    cached = store.summary(key)
    summary_request = None
    if cached is None:
        summary_request = dict(
            paragraphs=article.paragraphs,
            language=language,
            count=count,
            title=entry.title,
            algorithm=algorithm,
            max_words=max_words,
        )
    summary: tuple[str, ...] = cached or ()
    chosen: list[Comment] = []
    if summary_request is not None or thread.comments:
        # One task per story: the article crosses to the worker once, for both jobs.
        summary, chosen = await workers.run(
            _summary_and_comments,
            summary_request,
            thread,
            config.comments,
            "\n\n".join((entry.title, *article.paragraphs))[: comments.MAX_ARTICLE_CHARS],
            now,
        )
        if summary_request is not None:
            summaries.append((key, summary))
    return Story(
        title=entry.title,
        url=entry.url,
        source=entry.source,
        author=entry.author,
        published=entry.published,
        image=article.image,
        summary=summary,
        comment_count=comments.announced_total(entry.comment_count, thread),
        comments=tuple(chosen),
        comments_url=entry.comments_page or entry.url or None,
        key=entry.key,
    )


def _summary_and_comments(
    summary_request: dict[str, Any] | None,
    thread: CommentThread,
    settings: CommentSettings,
    article: str,
    now: datetime,
) -> tuple[tuple[str, ...], list[Comment]]:
    """A story's CPU work, in a worker: its summary (unless cached) and its comments."""
    summary: tuple[str, ...] = ()
    if summary_request is not None:
        summary = summarise.summarise(**summary_request)
    chosen = (
        comments.pick_for_story(thread, settings, article=article, now=now)
        if thread.comments
        else []
    )
    return summary, chosen


async def _network(
    fetcher: Fetcher, workers: Workers, feed: FeedSettings, entry: Entry, warnings: list[str]
) -> tuple[Article, CommentThread]:
    """The story's article and comment thread, fetched (and parsed) side by side."""
    article, thread = await asyncio.gather(
        _article(fetcher, workers, feed, entry, warnings),
        _comments(fetcher, workers, feed, entry, warnings),
    )
    return article, thread


async def _article(
    fetcher: Fetcher, workers: Workers, feed: FeedSettings, entry: Entry, warnings: list[str]
) -> Article:
    if not extract.needs_page(entry, feed.full_text):
        return extract.from_feed(entry)
    try:
        # URLs found inside feeds are strangers' words: never read local files for them.
        page = await fetcher.fetch(entry.url, accept=PAGE_ACCEPT, allow_local=False)
    except DigestError as e:
        warnings.append(f"{entry.url}: article page: {e}")
        return extract.from_feed(entry)
    return await workers.run(extract.from_page, entry, page)


async def _comments(
    fetcher: Fetcher, workers: Workers, feed: FeedSettings, entry: Entry, warnings: list[str]
) -> CommentThread:
    """The story's comment thread; any failure costs only these comments, and is reported."""
    where = comments.locate(entry, feed.comments, feed.comments_url)
    if where is None:
        return CommentThread()
    try:
        fetched = await fetcher.fetch(where.url, allow_local=False, accept=where.source.accept)
        return await workers.run(where.source.parse, fetched)
    except DigestError as e:
        warnings.append(f"{where.url}: comments ({where.source.name}): {e}")
        return CommentThread(error=str(e))
    except Exception as e:  # a parser bug must still cost only this story's comments
        logger.exception("%s: unexpected failure reading comments", where.url)
        warnings.append(f"{where.url}: comments ({where.source.name}): unexpected error: {e!r}")
        return CommentThread(error=repr(e))
