"""One build, top to bottom: collect → select → stories → compose → publish → record.

`digest build` and the scheduler both call `build`, so a scheduled issue is
the same as one built by hand. The network is touched only while feeds and
stories are gathered; the disk only by `publish` and the store's record.

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
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Protocol, TypeVar
from urllib.parse import urlsplit

import httpx

from digest import comments, isolate
from digest.collect.feeds import read_feed
from digest.collect.fetcher import PAGE_ACCEPT, Fetcher
from digest.collect.policy import FoundIn
from digest.config import Config, FeedSettings
from digest.errors import DigestError, RefusedError
from digest.issues.files import read_issues
from digest.issues.publish import archive_is_stale, publish, write_archive
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
    failed_feeds: list[str] = []
    warnings: list[str] = []  # per item: entries, pages, threads, comments, stories
    rendering: list[str] = []
    progress = progress or _Silent()
    if store.path is not None:  # a state in memory (the demo) has no past to mend
        warnings.extend(mend(store, config, output_dir))

    def result(outcome: Outcome, feeds: tuple[FeedReport, ...], **done: object) -> BuildResult:
        seconds = time.monotonic() - started
        every = (*failed_feeds, *warnings, *rendering)
        return BuildResult(outcome, feeds, every, seconds, **done)  # type: ignore[arg-type]

    async def gather() -> tuple[tuple[FeedReport, ...], list[Story] | None]:
        async with Fetcher(config.fetch, transport=transport, base_dir=config.base_dir) as fetcher:
            feeds = await _each(
                config.feeds, lambda f: _collect(fetcher, store, f), progress, "feeds"
            )
            reports = tuple(_report(f) for f in feeds)
            failed_feeds.extend(f"{r.url}: {r.error}" for r in reports if r.error)
            warnings.extend(w for f in feeds for w in f.warnings)
            failed = [r for r in reports if r.status is FeedStatus.ERROR]
            if len(failed) == len(reports) or (strict and failed):
                return reports, None
            entries = select(feeds, store, config, now)
            settings = {f.url: f for f in config.feeds}
            found_in = {f.url: FoundIn(f.url, f.address) for f in feeds}
            made = await _each(
                entries,
                lambda e: _isolated_story(
                    fetcher,
                    store,
                    config,
                    settings[e.feed_url],
                    e,
                    found_in[e.feed_url],
                    warnings,
                    now,
                ),
                progress,
                "stories",
            )
            return reports, [s for s in made if s is not None]

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
        warnings=tuple(isolate.label(w) for w in warnings),
    )
    folder, rendered = publish(issue, config, output_dir, local_images, archive=False)
    # The size budget may have trimmed comments or stories: the report says so.
    rendering.extend(rendered.warnings)
    # Stories are remembered only once the issue is on disk: a crash before
    # this line leaves them to be picked again, never lost; a crash after the
    # folder and before this line is mended by `reconcile` on the next start.
    store.record_issue(issue.id, ((s.key, s.title, s.url) for s in issue.stories))
    try:
        write_archive(output_dir, config)
    except DigestError as e:  # the issue is written: a stale archive is the next build's
        warnings.append(f"archive not refreshed: {e}")
    return result(Outcome.WRITTEN, reports, issue=issue, folder=folder)


def mend(store: State, config: Config, output_dir: Path) -> list[str]:
    """Finish what a killed build left: record its stories, refresh the archive.

    Returns warnings for the report.
    """
    mended = reconcile(store, output_dir)
    warnings = [f"issue {i}: written but its stories not recorded; now they are" for i in mended]
    try:
        if archive_is_stale(output_dir):
            write_archive(output_dir, config)
    except DigestError as e:
        warnings.append(f"archive not refreshed: {e}")
    return warnings


def reconcile(store: State, output_dir: Path) -> list[str]:
    """Record the stories of every issue folder whose stories are not recorded yet.

    A build (or the scheduler) killed between writing the folder and
    recording its stories would otherwise put them in the next issue again.
    Returns the ids of the issues mended.
    """
    known = store.recorded_issues()
    mended = []
    for issue in read_issues(output_dir):
        if issue.id in known or not issue.stories:
            continue
        store.record_issue(issue.id, ((s.key or s.url, s.title, s.url) for s in issue.stories))
        mended.append(issue.id)
    return mended


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
            fetched = replace(cached, validators=fetched.validators, address=fetched.address)
        title, entries, skipped = await asyncio.to_thread(read_feed, fetched)
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
    return Feed(
        url=url,
        status=status,
        title=settings.title or title,
        entries=tuple(entries),
        address=fetched.address,
        warnings=tuple(skipped),
    )


def select(feeds: Sequence[Feed], store: State, config: Config, now: datetime) -> list[Entry]:
    """New entries within the look-back window, newest first, one per story, capped."""
    candidates: dict[str, Entry] = {}
    for feed in feeds:
        for entry in feed.entries:
            candidates.setdefault(entry.key, entry)
    seen = store.seen(candidates)
    days = config.newsletter.lookback_days
    try:
        oldest = now - timedelta(days=days) if days else None
    except OverflowError:  # a window reaching past year 1 holds everything
        oldest = None
    fresh = [
        e
        for key, e in candidates.items()
        if key not in seen and (oldest is None or e.published is None or e.published >= oldest)
    ]
    # Undated entries go last: a feed that never dates its items should not
    # crowd out the ones that do.
    fresh.sort(key=lambda e: (e.published is not None, e.published or now), reverse=True)
    return fresh[: config.newsletter.max_stories]


async def _isolated_story(
    fetcher: Fetcher,
    store: State,
    config: Config,
    feed: FeedSettings,
    entry: Entry,
    found_in: FoundIn,
    warnings: list[str],
    now: datetime,
) -> Story | None:
    """`_story`, or None and one warning naming the entry when making it fails."""
    try:
        story = await _story(fetcher, store, config, feed, entry, found_in, warnings, now)
    except RefusedError as e:
        warnings.append(f"{entry.url}: story left out: {e}")
        return None
    except Exception as e:  # per-item isolation: one story's failure costs only that story
        logger.debug("%s: story failed", entry.url, exc_info=True)
        warnings.append(f"{entry.url}: story left out: {isolate.reason(e)}")
        return None
    # Whatever reaches the output is valid text: no lone surrogates left to crash an encoder.
    return isolate.repaired(story)


async def _story(
    fetcher: Fetcher,
    store: State,
    config: Config,
    feed: FeedSettings,
    entry: Entry,
    found_in: FoundIn,
    warnings: list[str],
    now: datetime,
) -> Story:
    article, (thread, refused) = await asyncio.gather(
        _article(fetcher, feed, entry, found_in, warnings),
        _comments(fetcher, feed, entry, found_in, warnings),
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
    try:
        chosen = await asyncio.to_thread(
            functools.partial(
                comments.pick_for_story,
                thread,
                config.comments,
                article="\n\n".join((entry.title, *article.paragraphs)),
                now=now,
            )
        )
    except Exception as e:  # a thread the ranking cannot handle costs its comments only
        warnings.append(f"{entry.url}: comments left out: {isolate.reason(e)}")
        chosen = []
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
        # A discussion link the policy refused is no place to send readers either.
        comments_url=(None if refused else entry.comments_page) or entry.url or None,
        key=entry.key,
    )


async def _article(
    fetcher: Fetcher, feed: FeedSettings, entry: Entry, found_in: FoundIn, warnings: list[str]
) -> Article:
    if not extract.needs_page(entry, feed.full_text):
        return extract.from_feed(entry)
    try:
        # URLs found inside feeds are strangers' words: never local files, and only
        # where the fetch policy allows (RefusedError leaves the story out).
        page = await fetcher.fetch(
            entry.url, accept=PAGE_ACCEPT, allow_local=False, found_in=found_in
        )
    except RefusedError:
        raise
    except DigestError as e:
        warnings.append(f"{entry.url}: article page: {e}")
        return extract.from_feed(entry)
    return await asyncio.to_thread(extract.from_page, entry, page)


async def _comments(
    fetcher: Fetcher, feed: FeedSettings, entry: Entry, found_in: FoundIn, warnings: list[str]
) -> tuple[CommentThread, bool]:
    """The story's comment thread, and whether the fetch policy refused it.

    Any failure costs only these comments, and is reported.
    """
    where = comments.locate(entry, feed.comments, feed.comments_url)
    if where is None:
        return CommentThread(), False
    # A `comments_url` pattern whose host the operator wrote is the operator's URL.
    trusted = _operator_host(feed.comments_url, where.url)
    try:
        fetched = await fetcher.fetch(
            where.url,
            allow_local=False,
            accept=where.source.accept,
            found_in=None if trusted else found_in,
        )
        thread = await asyncio.to_thread(where.source.parse, fetched)
    except RefusedError as e:
        warnings.append(f"{where.url}: comments ({where.source.name}) left out: {e}")
        return CommentThread(error=str(e)), True
    except DigestError as e:
        warnings.append(f"{where.url}: comments ({where.source.name}): {e}")
        return CommentThread(error=str(e)), False
    except Exception as e:  # a parser bug must still cost only this story's comments
        logger.debug("%s: unexpected failure reading comments", where.url, exc_info=True)
        reason = isolate.reason(e)
        warnings.append(f"{where.url}: comments ({where.source.name}): unexpected error: {reason}")
        return CommentThread(error=reason), False
    warnings.extend(thread.warnings)
    return thread, False


def _operator_host(pattern: str, url: str) -> bool:
    """True when `url` comes from a `comments_url` pattern whose host has no placeholder."""
    try:
        fixed, filled = urlsplit(pattern), urlsplit(url)
    except ValueError:
        return False
    return bool(pattern) and "{" not in fixed.netloc and fixed.netloc == filled.netloc
