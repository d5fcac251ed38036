"""One story: its article and comment thread from the network, then its summary and picks.

Any failure costs this story alone (one warning naming its URL); a failure
reading the comments costs only the comments. URLs here come from feeds, so
they go through the fetch policy (`found_in`): a refused article page leaves
the story out, a refused thread its comments.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from digest import comments, isolate
from digest.build.workers import Workers
from digest.collect import links
from digest.collect.feeds import canonical_url
from digest.collect.fetcher import PAGE_ACCEPT, Fetcher
from digest.collect.policy import FoundIn
from digest.config import CommentSettings, Config, FeedSettings
from digest.errors import DigestError, RefusedError
from digest.models import Article, Comment, CommentThread, Entry, Story
from digest.store import State
from digest.text import boilerplate, extract, languages, opening, summarise

logger = logging.getLogger(__name__)

Network = Awaitable[tuple[Article, CommentThread]]


async def isolated(entry: Entry, making: Awaitable[Story], warnings: list[str]) -> Story | None:
    """The story `making` gives, or None and one warning naming the entry when it fails."""
    try:
        made = await making
    except RefusedError as e:
        warnings.append(f"{entry.url}: story left out: {e}")
        return None
    except Exception as e:  # per-item isolation: one story's failure costs only that story
        logger.debug("%s: story failed", entry.url, exc_info=True)
        warnings.append(f"{entry.url}: story left out: {isolate.reason(e)}")
        return None
    # Whatever reaches the output is valid text: no lone surrogates left to crash an encoder.
    return isolate.repaired(made)


async def story(
    store: State,
    workers: Workers,
    config: Config,
    feed: FeedSettings,
    entry: Entry,
    requests: Network,
    repeated: frozenset[str],
    summaries: list[tuple[str, tuple[str, ...]]],
    warnings: list[str],
    now: datetime,
) -> Story:
    """The story of `entry` from its fetched article and thread (`requests`).

    `repeated` is the feed's boilerplate (`text.boilerplate`), left out of the summary.
    """
    article, thread = await requests
    article = boilerplate.without(article, repeated)
    text = " ".join(article.paragraphs[:5])[: summarise.MAX_CHARS]
    language = languages.choose(entry.language, text, config.newsletter.fixed_language)
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
        summary, chosen, failure = await workers.run(
            _summary_and_comments,
            summary_request,
            thread,
            config.comments,
            "\n\n".join((entry.title, *article.paragraphs))[: comments.MAX_ARTICLE_CHARS],
            now,
        )
        if failure:
            warnings.append(f"{entry.url}: comments left out: {failure}")
        if summary_request is not None:
            summaries.append((key, summary))
    # Too little prose to choose from: the article's own opening, never nothing.
    summary = opening.or_opening(summary, article, language, count, max_words)
    final = links.after_redirects(entry.url, article.page_url)
    return Story(
        title=entry.title,
        url=canonical_url(final) if final != entry.url else entry.url,
        source=entry.source,
        author=entry.author,
        published=entry.published,
        image=article.image,
        summary=summary,
        comment_count=comments.announced_total(entry.comment_count, thread),
        comments=tuple(chosen),
        # A discussion link the policy refused is no place to send readers either.
        comments_url=(None if thread.refused else entry.comments_page) or entry.url or None,
        key=entry.key,
        picture=article.picture,
        section=entry.section,
        language=language,
    )


def _summary_and_comments(
    summary_request: dict[str, Any] | None,
    thread: CommentThread,
    settings: CommentSettings,
    article: str,
    now: datetime,
) -> tuple[tuple[str, ...], list[Comment], str]:
    """A story's CPU work, in a worker: its summary (unless cached) and its comments.

    A thread the ranking cannot handle costs its comments only (the third value
    says why); a summary that fails fails the story.
    """
    summary: tuple[str, ...] = ()
    if summary_request is not None:
        summary = summarise.summarise(**summary_request)
    if not thread.comments:
        return summary, [], ""
    try:
        return summary, comments.pick_for_story(thread, settings, article=article, now=now), ""
    except Exception as e:
        return summary, [], isolate.reason(e)


async def network(
    fetcher: Fetcher,
    workers: Workers,
    feed: FeedSettings,
    entry: Entry,
    found_in: FoundIn,
    warnings: list[str],
) -> tuple[Article, CommentThread]:
    """The story's article and comment thread, fetched (and parsed) side by side."""
    article, thread = await asyncio.gather(
        _article(fetcher, workers, feed, entry, found_in, warnings),
        _comments(fetcher, workers, feed, entry, found_in, warnings),
    )
    return article, thread


async def _article(
    fetcher: Fetcher,
    workers: Workers,
    feed: FeedSettings,
    entry: Entry,
    found_in: FoundIn,
    warnings: list[str],
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
    return await workers.run(extract.from_page, entry, page)


async def _comments(
    fetcher: Fetcher,
    workers: Workers,
    feed: FeedSettings,
    entry: Entry,
    found_in: FoundIn,
    warnings: list[str],
) -> CommentThread:
    """The story's comment thread; any failure costs only these comments, and is reported."""
    where = comments.locate(entry, feed.comments, feed.comments_url)
    if where is None:
        return CommentThread()
    # A `comments_url` pattern whose host the operator wrote is the operator's URL.
    trusted = _operator_host(feed.comments_url, where.url)
    try:
        fetched = await fetcher.fetch(
            where.url,
            allow_local=False,
            accept=where.source.accept,
            found_in=None if trusted else found_in,
        )
        thread: CommentThread = await workers.run(where.source.parse, fetched)
    except RefusedError as e:
        warnings.append(f"{where.url}: comments ({where.source.name}) left out: {e}")
        return CommentThread(error=str(e), refused=True)
    except DigestError as e:
        warnings.append(f"{where.url}: comments ({where.source.name}): {e}")
        return CommentThread(error=str(e))
    except Exception as e:  # a parser bug must still cost only this story's comments
        logger.debug("%s: unexpected failure reading comments", where.url, exc_info=True)
        reason = isolate.reason(e)
        warnings.append(f"{where.url}: comments ({where.source.name}): unexpected error: {reason}")
        return CommentThread(error=reason)
    warnings.extend(thread.warnings)
    return thread


def _operator_host(pattern: str, url: str) -> bool:
    """True when `url` comes from a `comments_url` pattern whose host has no placeholder."""
    try:
        fixed, filled = urlsplit(pattern), urlsplit(url)
    except ValueError:
        return False
    return bool(pattern) and "{" not in fixed.netloc and fixed.netloc == filled.netloc
