"""One build, top to bottom: collect → select → stories → compose → publish → record.

`digest build` and the scheduler both call `build`, so a scheduled issue is
the same as one built by hand. The network is touched only while feeds and
stories are gathered; the disk only by `publish` and the store's record.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Protocol, TypeVar

import httpx

from digest import comments, select
from digest.collect import links
from digest.collect.feeds import canonical_url, parse_feed
from digest.collect.fetcher import PAGE_ACCEPT, Fetcher
from digest.config import Config, FeedSettings
from digest.errors import DigestError
from digest.issues.publish import publish
from digest.models import Article, CommentThread, Entry, Feed, FeedReport, FeedStatus, Issue, Story
from digest.store import State
from digest.text import extract, languages, summarise

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
) -> BuildResult:
    """Build the next issue into `output_dir/<issue_id>/` when there is something new.

    `strict` fails the build as soon as any feed failed, before any story is
    fetched. `local_images` maps image URLs to files copied beside the issue
    (the offline demo).
    """
    started = time.monotonic()
    warnings: list[str] = []
    twins: dict[str, tuple[str, ...]] = {}  # a story's duplicates, remembered as sent with it
    progress = progress or _Silent()

    def result(outcome: Outcome, feeds: tuple[FeedReport, ...], **done: object) -> BuildResult:
        seconds = time.monotonic() - started
        return BuildResult(outcome, feeds, tuple(warnings), seconds, **done)  # type: ignore[arg-type]

    async def gather() -> tuple[tuple[FeedReport, ...], list[Story] | None]:
        async with Fetcher(config.fetch, transport=transport, base_dir=config.base_dir) as fetcher:
            feeds = await _each(
                config.feeds, lambda f: _collect(fetcher, store, f), progress, "feeds"
            )
            reports = tuple(_report(f) for f in feeds)
            warnings.extend(f"{r.url}: {r.error}" for r in reports if r.error)
            failed = [r for r in reports if r.status is FeedStatus.ERROR]
            if len(failed) == len(reports) or (strict and failed):
                return reports, None
            chosen = _select(feeds, store, config, now)
            twins.update(chosen.twins)
            settings = {f.url: f for f in config.feeds}
            stories = await _each(
                chosen.entries,
                lambda e: _story(fetcher, store, config, settings[e.feed_url], e, warnings, now),
                progress,
                "stories",
            )
            # Two redirector links may have led to one article page: one story.
            stories, folded = select.fold_stories(stories)
            for key, keys in folded.items():
                twins[key] = (*twins.get(key, ()), *keys)
            return reports, stories

    reports, stories = asyncio.run(gather())
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
    folder, rendered = publish(issue, config, output_dir, local_images)
    # The size budget may have trimmed comments or stories: the report says so.
    warnings.extend(rendered.warnings)
    # Stories are remembered only once the issue is on disk: a crash before
    # this line leaves them to be picked again, never lost.
    sent = [(s.key, s.title, s.url) for s in issue.stories]
    sent += [(twin, s.title, s.url) for s in issue.stories for twin in twins.get(s.key, ())]
    store.record_issue(issue.id, sent)
    return result(Outcome.WRITTEN, reports, issue=issue, folder=folder)


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


async def _collect(fetcher: Fetcher, store: State, settings: FeedSettings) -> Feed:
    """One feed, fetched conditionally and parsed; any failure is this feed's alone."""
    url = settings.url
    try:
        fetched = await fetcher.fetch(url, store.validators(url))
        status = FeedStatus.OK
        if fetched.not_modified:
            # Reparse the last body: stories left out of earlier issues by
            # max_stories are still candidates, and `seen` filters the rest.
            status = FeedStatus.NOT_MODIFIED
            cached = store.cached_response(url)
            if cached is None:
                return Feed(url=url, status=status)
            fetched = replace(cached, validators=fetched.validators)
        title, entries = await asyncio.to_thread(parse_feed, fetched)
        if status is FeedStatus.OK:
            store.remember_response(fetched)
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


def _select(feeds: Sequence[Feed], store: State, config: Config, now: datetime) -> select.Selection:
    """The issue's entries (digest/select/), given what earlier issues sent."""
    keys = [e.key for feed in feeds for e in feed.entries]
    return select.choose(feeds, store.seen(keys), config, now)


async def _story(
    fetcher: Fetcher,
    store: State,
    config: Config,
    feed: FeedSettings,
    entry: Entry,
    warnings: list[str],
    now: datetime,
) -> Story:
    article, thread = await asyncio.gather(
        _article(fetcher, feed, entry, warnings), _comments(fetcher, feed, entry, warnings)
    )
    text = " ".join(article.paragraphs[:5])
    summary = await summarise.cached_summary(
        store,
        article.paragraphs,
        languages.choose(entry.language, text, config.newsletter.language),
        feed.summary_sentences or config.summary.sentences,
        title=entry.title,
        algorithm=feed.summary_algorithm or config.summary.algorithm,
        max_words=config.summary.max_words,
    )
    chosen = await asyncio.to_thread(
        functools.partial(
            comments.pick_for_story,
            thread,
            config.comments,
            article="\n\n".join((entry.title, *article.paragraphs)),
            now=now,
        )
    )
    final = links.after_redirects(entry.url, article.page_url)
    return Story(
        title=entry.title,
        url=canonical_url(final) if final != entry.url else entry.url,
        source=entry.source,
        author=entry.author,
        published=entry.published,
        image=article.image,
        picture=article.picture,
        section=entry.section,
        summary=summary,
        comment_count=comments.announced_total(entry.comment_count, thread),
        comments=tuple(chosen),
        comments_url=entry.comments_page or entry.url or None,
        key=entry.key,
    )


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
    where = comments.locate(entry, feed.comments, feed.comments_url)
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
