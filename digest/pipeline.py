"""One build, top to bottom: collect → select → extract → summarise → comments → compose.

`build_issue` gathers an `Issue` (network and state reads only);
`run` renders it, writes the files and records what was sent.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

import httpx

from digest import comments as comment_rules
from digest import extract, languages, summarise
from digest.collect import PAGE_ACCEPT, Fetcher
from digest.config import Config, FeedSettings
from digest.errors import DigestError
from digest.feeds import parse_feed
from digest.models import (
    Article,
    CommentThread,
    Entry,
    Feed,
    FeedReport,
    FeedStatus,
    Issue,
    Story,
)
from digest.state import State

logger = logging.getLogger(__name__)
T = TypeVar("T")


class Progress(Protocol):
    """What the CLI shows while a build runs."""

    def start(self, stage: str, total: int) -> None: ...
    def advance(self, stage: str) -> None: ...


class _Silent:
    def start(self, stage: str, total: int) -> None:
        pass

    def advance(self, stage: str) -> None:
        pass


@dataclass(frozen=True)
class Build:
    """What one build produced: the issue (None when nothing was new) and what went wrong."""

    issue: Issue | None
    feeds: tuple[FeedReport, ...]
    warnings: tuple[str, ...]
    seconds: float


def build_issue(
    config: Config,
    state: State,
    *,
    now: datetime,
    issue_id: str,
    transport: httpx.AsyncBaseTransport | None = None,
    progress: Progress | None = None,
) -> Build:
    """Collect every feed and compose the next issue from what is new."""
    started = time.monotonic()
    return asyncio.run(
        _build(config, state, now, issue_id, transport, progress or _Silent(), started)
    )


async def _build(
    config: Config,
    state: State,
    now: datetime,
    issue_id: str,
    transport: httpx.AsyncBaseTransport | None,
    progress: Progress,
    started: float,
) -> Build:
    warnings: list[str] = []
    async with Fetcher(config.fetch, transport=transport, base_dir=config.base_dir) as fetcher:
        progress.start("feeds", len(config.feeds))
        feeds = await _each(config.feeds, lambda f: _collect(fetcher, state, f), progress, "feeds")
        reports = tuple(
            FeedReport(
                url=f.url, status=f.status, title=f.title, error=f.error, items=len(f.entries)
            )
            for f in feeds
        )
        warnings += [f"{r.url}: {r.error}" for r in reports if r.status is FeedStatus.ERROR]
        settings = {f.url: f for f in config.feeds}
        entries = select_entries(feeds, state, config, now)
        progress.start("stories", len(entries))
        stories = await _each(
            entries,
            lambda e: _story(fetcher, state, config, settings[e.feed_url], e, warnings, now),
            progress,
            "stories",
        )
    issue = None
    if stories:
        issue = Issue(
            id=issue_id,
            title=config.newsletter.title,
            generated_at=now,
            stories=tuple(stories),
            feeds=reports,
        )
    return Build(issue, reports, tuple(warnings), time.monotonic() - started)


async def _each(
    items: Sequence[T],
    work: Callable[[T], Awaitable[object]],
    progress: Progress,
    stage: str,
) -> list:  # type: ignore[type-arg]
    """Run `work` on every item concurrently (the Fetcher bounds the network), in order."""

    async def one(item: T) -> object:
        try:
            return await work(item)
        finally:
            progress.advance(stage)

    return list(await asyncio.gather(*(one(item) for item in items)))


async def _collect(fetcher: Fetcher, state: State, settings: FeedSettings) -> Feed:
    """One feed, fetched conditionally and parsed; any failure is this feed's alone."""
    url = settings.url
    try:
        fetched = await fetcher.fetch(url, state.validators(url))
        status = FeedStatus.OK
        if fetched.not_modified:
            # Reparse the last body: stories left out of earlier issues by
            # max_stories are still candidates, and `seen` filters the rest.
            status = FeedStatus.NOT_MODIFIED
            cached = state.cached_response(url)
            if cached is None:
                return Feed(url=url, status=status)
            fetched = replace(cached, validators=fetched.validators)
        title, entries = await asyncio.to_thread(parse_feed, fetched)
        if status is FeedStatus.OK:
            state.remember_response(fetched)
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


def select_entries(
    feeds: Sequence[Feed], state: State, config: Config, now: datetime
) -> list[Entry]:
    """New entries within the look-back window, newest first, one per story, capped."""
    candidates: dict[str, Entry] = {}
    for feed in feeds:
        for entry in feed.entries:
            candidates.setdefault(entry.key, entry)
    seen = state.seen(candidates)
    days = config.newsletter.lookback_days
    oldest = now - timedelta(days=days) if days else None
    fresh = [
        e
        for key, e in candidates.items()
        if key not in seen and (oldest is None or e.published is None or e.published >= oldest)
    ]
    # Undated entries go last: a feed that never dates its items should not
    # crowd out the ones that do.
    fresh.sort(key=lambda e: (e.published is not None, e.published or now), reverse=True)
    return fresh[: config.newsletter.max_stories]


async def _story(
    fetcher: Fetcher,
    state: State,
    config: Config,
    feed: FeedSettings,
    entry: Entry,
    warnings: list[str],
    now: datetime,
) -> Story:
    article_task = _article(fetcher, feed, entry, warnings)
    thread_task = _comments(fetcher, feed, entry, warnings)
    article, thread = await asyncio.gather(article_task, thread_task)
    summary = await _summary(state, config, feed, entry, article.paragraphs)
    chosen = await asyncio.to_thread(
        functools.partial(
            comment_rules.pick_comments,
            thread.comments,
            config.comments.per_story,
            config.comments.max_words,
            article="\n\n".join((entry.title, *article.paragraphs)),
            now=now,
            abuse=comment_rules.AbuseFilter.from_settings(
                config.comments.abuse_filter,
                config.comments.abuse_allow,
                config.comments.abuse_words,
                config.comments.abuse_threshold,
            ),
        )
    )
    return Story(
        title=entry.title,
        url=entry.url,
        source=entry.source,
        author=entry.author,
        published=entry.published,
        image=article.image,
        summary=summary,
        comment_count=comment_rules.announced_total(entry.comment_count, thread),
        comments=tuple(chosen),
        comments_url=entry.comments_page or entry.url or None,
        key=entry.key,
    )


async def _summary(
    state: State, config: Config, feed: FeedSettings, entry: Entry, paragraphs: tuple[str, ...]
) -> tuple[str, ...]:
    """The story's summary, from the state file when this exact text was summarised before."""
    text = " ".join(paragraphs[:5])
    language = languages.choose(entry.language, text, config.newsletter.language)
    count = feed.summary_sentences or config.summary.sentences
    algorithm = feed.summary_algorithm or config.summary.algorithm
    words = config.summary.max_words
    key = summarise.content_hash(
        paragraphs, language, count, title=entry.title, algorithm=algorithm, max_words=words
    )
    summary = state.summary(key)
    if summary is None:
        summary = await asyncio.to_thread(
            functools.partial(
                summarise.summarise,
                paragraphs,
                language,
                count,
                title=entry.title,
                algorithm=algorithm,
                max_words=words,
            )
        )
        state.remember_summary(key, summary)
    return summary


async def _article(
    fetcher: Fetcher, feed: FeedSettings, entry: Entry, warnings: list[str]
) -> Article:
    if not extract.needs_page(entry, feed.full_text):
        return extract.from_feed(entry)
    try:
        # URLs found inside feeds are strangers' words: never read local files for them.
        page = await fetcher.fetch(entry.url, accept=PAGE_ACCEPT, allow_local=False)
    except DigestError as e:
        warnings.append(f"{entry.url}: article page: {e}")
        return extract.from_feed(entry)
    return await asyncio.to_thread(extract.from_page, entry, page)


async def _comments(
    fetcher: Fetcher, feed: FeedSettings, entry: Entry, warnings: list[str]
) -> CommentThread:
    """The story's comment thread; any failure costs only these comments, and is reported."""
    where = comment_rules.locate(entry, feed.comments, feed.comments_url)
    if where is None:
        return CommentThread()
    try:
        fetched = await fetcher.fetch(where.url, allow_local=False, accept=where.source.accept)
        return await asyncio.to_thread(where.source.parse, fetched)
    except DigestError as e:
        warnings.append(f"{where.url}: comments ({where.source.name}): {e}")
        return CommentThread(error=str(e))
    except Exception as e:  # a parser bug must still cost only this story's comments
        logger.exception("%s: unexpected failure reading comments", where.url)
        warnings.append(f"{where.url}: comments ({where.source.name}): unexpected error: {e!r}")
        return CommentThread(error=repr(e))
