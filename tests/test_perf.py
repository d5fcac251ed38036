"""What makes builds fast, pinned by behaviour: the worker pool gives the same issue as
threads, a 304 costs no parsing, the abuse model needs no scikit-learn after its first
load, and the size budget never renders more than the email could hold.

Timings are in `bench/build.py` and `bench/scale.py`, never asserted here.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from digest.build import Outcome, build
from digest.comments import abuse_model
from digest.config import load_config
from digest.models import Comment, Issue, Story
from digest.render.budget import fit
from digest.store import State
from testkit.newsroom import Site, make_story
from tests.conftest import ConfigWriter

NOW = datetime.now(UTC)


@pytest.fixture
def newsroom(httpserver: HTTPServer) -> list[Site]:
    """Nine feeds (enough for the worker pool), some with excerpts and comment feeds."""
    sites = []
    for n in range(9):
        stories = [make_story(n * 4 + i, now=NOW, hours_ago=1 + n * 4 + i) for i in range(4)]
        site = Site(httpserver, f"site-{n}", stories).serve(excerpt=n % 3 == 0)
        sites.append(site)
    return sites


def _issue(config_path: Path, tmp: Path, workers: int) -> dict[str, Any]:
    config = load_config(config_path)
    with State(tmp / f"state-{workers}.sqlite") as state:
        result = build(
            config, state, tmp / f"out-{workers}", now=NOW, issue_id="one", workers=workers
        )
    assert result.outcome is Outcome.WRITTEN, result.warnings
    assert result.folder is not None
    return json.loads((result.folder / "issue.json").read_text())  # type: ignore[no-any-return]


@pytest.mark.slow
def test_the_worker_pool_builds_the_same_issue_as_threads(
    newsroom: list[Site], write_config: ConfigWriter, tmp_path: Path
) -> None:
    config = write_config(*(s.feed_url for s in newsroom), newsletter="max_stories = 12")
    pooled, threaded = _issue(config, tmp_path, 2), _issue(config, tmp_path, 0)
    assert len(pooled["stories"]) == 12
    assert pooled["stories"] == threaded["stories"]
    assert any(s["comments"] for s in pooled["stories"])
    assert [f["status"] for f in pooled["feeds"]] == ["ok"] * 9


def test_a_304_reuses_the_entries_parsed_last_time(
    newsroom: list[Site], write_config: ConfigWriter, tmp_path: Path, httpserver: HTTPServer
) -> None:
    config_path = write_config(*(s.feed_url for s in newsroom[:2]), newsletter="max_stories = 3")
    config = load_config(config_path)
    with State(tmp_path / "state.sqlite") as state:
        first = build(config, state, tmp_path / "out", now=NOW, issue_id="a", workers=0)
        assert first.issue is not None and len(first.issue.stories) == 3
        # Only what was parsed is kept, not the body.
        assert state.cached_response(newsroom[0].feed_url) is None
        parsed = state.parsed_feed(newsroom[0].feed_url)
        assert parsed is not None and len(parsed[1]) == 4
        httpserver.clear_log()
        second = build(config, state, tmp_path / "out", now=NOW, issue_id="b", workers=0)
    assert [f.status for f in second.feeds] == ["not_modified", "not_modified"]
    assert [f.items for f in second.feeds] == [4, 4]
    assert second.issue is not None
    # The stories left out by max_stories last time are the candidates now.
    assert {s.key for s in second.issue.stories}.isdisjoint(s.key for s in first.issue.stories)
    assert len(second.issue.stories) == 3


def test_unreadable_kept_entries_mean_a_full_fetch(
    newsroom: list[Site], write_config: ConfigWriter, tmp_path: Path
) -> None:
    config = load_config(write_config(newsroom[0].feed_url))
    path = tmp_path / "state.sqlite"
    with State(path) as state:
        build(config, state, tmp_path / "out", now=NOW, issue_id="a", workers=0)
    with sqlite3.connect(path) as db:  # as a later version of the format would look
        db.execute("UPDATE parsed_feeds SET entries = '{\"format\": 999}'")
    with State(path) as state:
        again = build(config, state, tmp_path / "out", now=NOW, issue_id="b", workers=0)
        assert state.parsed_feed(newsroom[0].feed_url) is not None
    assert again.feeds[0].status == "ok" and again.feeds[0].items == 4


def test_the_abuse_model_matches_alt_profanity_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from profanity_check import predict_prob

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    texts = [
        "What a lovely review, the wagon looks great in green.",
        "you are a complete idiot and a moron",
        "",
        "!!! ???",
        "The dealer was damn slow but the work was fine in the end.",
        "shut up you stupid piece of garbage",
        "Ünïcödé wörds ånd 数字 123",
    ]
    first = abuse_model.load()  # read out of the package's model, then cached
    assert first is not None
    assert list((tmp_path / "digest").glob("abuse-model-*.npz"))
    cached = abuse_model.load()
    assert cached is not None
    expected = [float(p) for p in predict_prob(texts)]
    for model in (first, cached):
        assert model.predict_prob(texts) == pytest.approx(expected, abs=1e-9)


def _story(n: int, comments: int) -> Story:
    return Story(
        title=f"Story {n}",
        url=f"https://example.com/{n}",
        source="Example",
        author=None,
        published=NOW,
        image=None,
        comment_count=comments,
        summary=("word " * random.Random(n).randint(20, 60),),
        comments=tuple(Comment(author=f"a{k}", text="text " * 40) for k in range(comments)),
        key=str(n),
    )


def test_the_budget_measures_nothing_much_bigger_than_the_email() -> None:
    stories = tuple(_story(n, 3) for n in range(5000))
    issue = Issue(id="x", title="T", generated_at=NOW, stories=stories, feeds=())
    measured: list[int] = []

    def size(version: Issue) -> int:
        measured.append(len(version.stories))
        return sum(300 + len(s.summary[0]) + 250 * len(s.comments) for s in version.stories)

    def render(version: Issue) -> str:
        return "x" * int(size(version) * 1.2)

    budget = 90_000
    fitted = fit(issue, render, budget, estimate=size)
    kept = len(fitted.issue.stories)
    assert len(fitted.html) <= budget
    assert 0 < kept < 5000
    assert all(not s.comments for s in fitted.issue.stories)  # comments go before stories
    # A version with one more story would not have fitted.
    bigger = replace(issue, stories=tuple(replace(s, comments=()) for s in stories[: kept + 1]))
    assert len(render(bigger)) > budget
    # Never a version with more than twice the stories the email holds.
    assert max(measured) <= 2 * (kept + 1)
    assert "would be over" in fitted.notes[0] and "the last" in fitted.notes[0]


def _modules_after(code: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint(' '.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )
    return set(done.stdout.split())


def test_start_up_imports_nothing_heavy() -> None:
    help_modules = _modules_after("import digest.cli")
    assert not {"premailer", "cssutils", "trafilatura", "feedparser", "numpy"} & help_modules
    build_modules = _modules_after("import digest.build")
    assert not {"nltk", "scipy", "sklearn", "trafilatura", "premailer"} & build_modules
    summary_modules = _modules_after(
        "from digest.text.summarise import summarise\n"
        "summarise(['One sentence here is long enough to count for sure. ' * 3], 'en', 1)"
    )
    assert not {"nltk", "scipy", "sklearn", "sumy.nlp.stemmers"} & summary_modules


def test_the_cached_language_model_classifies_like_the_packaged_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from digest.text import languages

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    texts = [
        "Der Bundestag hat am Donnerstag ein neues Gesetz beschlossen, das Mieten begrenzt.",
        "The company said on Tuesday that it would build a new plant in Ohio next year.",
        "Le gouvernement a annoncé mardi une nouvelle réforme des retraites.",
        "Il governo ha annunciato martedì una nuova riforma delle pensioni pubbliche.",
    ]
    languages._identifier.cache_clear()
    try:
        packaged = [languages._identifier().classify(t) for t in texts]
        assert list((tmp_path / "digest").glob("langid-*.npz"))
        languages._identifier.cache_clear()
        cached = [languages._identifier().classify(t) for t in texts]
    finally:
        languages._identifier.cache_clear()
    assert [language for language, _ in packaged] == ["de", "en", "fr", "it"]
    assert cached == packaged
