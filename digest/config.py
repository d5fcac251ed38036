"""Read `config.toml` into typed, frozen settings.

Each section is a dataclass; its fields are the only keys allowed, and their
annotations are the types checked. Every problem found is reported with its
key and line, then loading stops once with a `ConfigError`.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from digest.errors import ConfigError

FullText = Literal["auto", "always", "never"]
CommentsMode = Literal["auto", "none", "wordpress", "reddit", "hackernews", "discourse", "mastodon"]
SummaryAlgorithm = Literal[
    "auto", "lead", "lexrank", "textrank", "lsa", "luhn", "edmundson", "sumbasic", "kl",
    "reduction",
]  # fmt: skip
FeedSummaryAlgorithm = Literal[
    "", "auto", "lead", "lexrank", "textrank", "lsa", "luhn", "edmundson", "sumbasic", "kl",
    "reduction",
]  # fmt: skip
SmtpSecurity = Literal["starttls", "tls", "none"]


@dataclass(frozen=True)
class NewsletterSettings:
    title: str = "Digest"
    """Masthead and subject line."""
    max_stories: int = 10
    """At most this many stories per issue, newest first."""
    lookback_days: int = 7
    """Only stories published within this many days; 0 means no limit."""
    description: str = ""
    """One line under the masthead."""
    language: str = "en"
    """Language of the newsletter's own words (and the default for feeds)."""
    url: str = ""
    """Where readers can find the newsletter on the web (optional)."""
    sender: str = "Digest <digest@localhost>"
    """From header: "Name <address>". Written `from` in config.toml."""
    unsubscribe: str = ""
    """List-Unsubscribe target: a mailto: or https: URL; "{token}" becomes the reader's token."""
    unsubscribe_secret_env: str = "DIGEST_UNSUBSCRIBE_SECRET"
    """Environment variable holding the secret that signs unsubscribe tokens."""
    postal_address: str = ""
    """Sender's postal address, shown in the footer."""


@dataclass(frozen=True)
class FeedSettings:
    url: str
    """An http(s) URL or a local path (relative to config.toml)."""
    title: str = ""
    """Overrides the feed's own title as the story source."""
    full_text: FullText = "auto"
    """Fetch the article page: when the feed has only an excerpt, always, or never."""
    comments: CommentsMode = "auto"
    """Where comments come from: "auto" (comment feed or discussion link), "none", or a source."""
    language: str = ""
    """Overrides the feed's declared language for summarising."""
    comments_url: str = ""
    """With an explicit comments source: the thread's API URL; {page} {url} {id} are filled in."""
    summary_sentences: int = 0
    """Sentences per summary for this feed; 0 uses `[summary] sentences`."""
    summary_algorithm: FeedSummaryAlgorithm = ""
    """Summariser for this feed; "" uses `[summary] algorithm`."""


@dataclass(frozen=True)
class SummarySettings:
    sentences: int = 3
    """Sentences per story summary."""
    algorithm: SummaryAlgorithm = "auto"
    """Sentence ranker: "auto" (position-aware centrality), "lead", or a sumy algorithm."""
    max_words: int = 75
    """Word cap of a summary: a sentence that would pass it gives way to a shorter one."""


@dataclass(frozen=True)
class CommentSettings:
    per_story: int = 3
    """Comments shown under each story."""
    max_words: int = 80
    """A longer comment is cut at a sentence boundary with "…"."""
    abuse_filter: bool = True
    """Drop comments with abusive language (alt-profanity-check's maintained classifier)."""
    abuse_allow: str = "hell, damn, damned, crap, crappy, sucks, suck, bloody, screw, screwed"
    """Comma-separated words the abuse list should not count (mild words car talk needs)."""
    abuse_words: str = ""
    """Comma-separated extra words that make a comment abusive."""
    abuse_threshold: float = 0.8
    """Classifier probability (0..1) from which a comment is abusive; lower drops more."""


@dataclass(frozen=True)
class OutputSettings:
    dir: str = "output"
    """Where issues are written (relative to config.toml)."""


@dataclass(frozen=True)
class FetchSettings:
    timeout: float = 20.0
    """Seconds for a whole request, body included."""
    max_bytes: int = 10_000_000
    """Larger responses are cut off and count as failed."""
    concurrency: int = 8
    """Requests in flight at once."""
    per_host: int = 2
    """Requests in flight at once to any one host."""
    max_redirects: int = 5


@dataclass(frozen=True)
class StateSettings:
    path: str = "digest-state.sqlite"
    """SQLite file remembering what was sent, HTTP validators and summaries."""


@dataclass(frozen=True)
class ThemeSettings:
    brand_color: str = "#b3001b"
    """Accent colour: the top rule, buttons and links (a dark red by default)."""
    text_color: str = "#1a1a1a"
    """Body text colour."""
    background_color: str = "#efece8"
    """Colour around the 600 px column."""
    serif_font: str = "Georgia, 'Times New Roman', serif"
    """Font stack for headlines and body text (system fonts only: no remote fonts)."""
    sans_font: str = "-apple-system, 'Segoe UI', Helvetica, Arial, sans-serif"
    """Font stack for labels, bylines and the footer."""
    logo_url: str = ""
    """An http(s) image shown in the masthead instead of the wordmark."""
    logo_width: int = 200
    """Width of the logo in pixels (its height follows the image's proportions)."""
    logo_height: int = 50
    """Height of the logo in pixels, for clients that need it up front."""
    footer_text: str = ""
    """Why readers get this; replaces "You are receiving … because you subscribed."."""
    size_budget_kb: int = 90
    """Upper bound for email.html in KB: comments, then tail stories are dropped to fit."""
    utm_source: str = ""
    """utm_source added to story links (none when empty)."""
    utm_medium: str = "email"
    """utm_medium added to story links when utm_source is set."""
    utm_campaign: str = ""
    """utm_campaign added to story links when utm_source is set ("" → the issue id)."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "127.0.0.1"
    """SMTP server or an email service provider's relay."""
    port: int = 587
    """587 for STARTTLS, 465 for implicit TLS, 25 for a local relay."""
    security: SmtpSecurity = "starttls"
    """"starttls" (upgrade after connecting), "tls" (TLS from the start) or "none"."""
    username: str = ""
    """AUTH user; empty means no AUTH."""
    password_env: str = "DIGEST_SMTP_PASSWORD"
    """Environment variable holding the AUTH password (never in config.toml)."""
    rate: float = 10.0
    """Messages per second at most; 0 means as fast as the server takes them."""
    timeout: float = 30.0
    """Seconds to wait for the server on any one command."""
    retries: int = 5
    """Tries after a transient failure (4xx, dropped connection) before giving up for now."""
    backoff: float = 2.0
    """Seconds before the first retry; doubled each time."""
    ca_file: str = ""
    """PEM file of extra certificate authorities to trust (a private relay's own CA)."""
    dkim_key: str = ""
    """PEM private key file: sign every message with DKIM for the From domain."""
    dkim_selector: str = ""
    """DKIM selector whose DNS TXT record holds the public key."""
    bounce_address: str = ""
    """Envelope sender for bounces, e.g. "bounces@example.org": each message goes out
    from "bounces+<id>@example.org" (VERP) so `digest bounces` knows who bounced."""


@dataclass(frozen=True)
class ScheduleSettings:
    cron: str = "0 7 * * 1-5"
    """When issues go out: a five-field cron expression, in `timezone`."""
    timezone: str = ""
    """IANA zone of the cron expression, e.g. "America/Detroit"; empty means the machine's."""
    grace_minutes: int = 720
    """After downtime, a missed due time is caught up once if it is at most this old."""


@dataclass(frozen=True)
class ServerSettings:
    """`digest serve`: the readers' web app (subscribe, confirm, preferences, unsubscribe)."""

    base_url: str = ""
    """Public address of the app, e.g. "https://news.example.org"; every link points there."""
    host: str = "127.0.0.1"
    """Interface to listen on (behind a reverse proxy: loopback)."""
    port: int = 8080
    trusted_proxies: str = "127.0.0.1"
    """Comma-separated proxy addresses whose X-Forwarded-For is believed ("*": any)."""
    welcome: bool = True
    """Mail the newest issue to a reader as soon as they confirm."""
    confirm_hours: int = 48
    """A confirmation link works for this many hours."""
    subscribe_per_ip: int = 10
    """Subscribe requests one client address may make per hour."""
    subscribe_per_address: int = 3
    """Confirmation mails one email address may be sent per day."""
    soft_bounce_limit: int = 3
    """Soft bounces (mailbox full, server busy) after which an address is suppressed."""


@dataclass(frozen=True)
class Config:
    newsletter: NewsletterSettings = field(default_factory=NewsletterSettings)
    feeds: tuple[FeedSettings, ...] = ()
    summary: SummarySettings = field(default_factory=SummarySettings)
    comments: CommentSettings = field(default_factory=CommentSettings)
    output: OutputSettings = field(default_factory=OutputSettings)
    fetch: FetchSettings = field(default_factory=FetchSettings)
    state: StateSettings = field(default_factory=StateSettings)
    theme: ThemeSettings = field(default_factory=ThemeSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    base_dir: Path = field(default_factory=Path.cwd)
    """Folder of config.toml: relative paths are resolved against it."""

    def resolve(self, path: str) -> Path:
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    @property
    def output_dir(self) -> Path:
        return self.resolve(self.output.dir)

    @property
    def state_path(self) -> Path:
        env = os.environ.get("DIGEST_STATE")
        return Path(env) if env else self.resolve(self.state.path)

    @property
    def unsubscribe_url(self) -> str:
        """Where the footer and List-Unsubscribe send a reader: `digest serve` when it is public."""
        if self.server.base_url:
            return f"{self.server.base_url.rstrip('/')}/unsubscribe/{{token}}"
        return self.newsletter.unsubscribe

    @property
    def templates_dir(self) -> Path:
        """A `templates/` folder beside config.toml overrides the default theme."""
        return self.base_dir / "templates"


# TOML keys that are Python keywords or clash with builtins.
_KEY_ALIASES = {"from": "sender"}
_SECTIONS: dict[str, type] = {
    "newsletter": NewsletterSettings,
    "summary": SummarySettings,
    "comments": CommentSettings,
    "output": OutputSettings,
    "fetch": FetchSettings,
    "state": StateSettings,
    "theme": ThemeSettings,
    "smtp": SmtpSettings,
    "schedule": ScheduleSettings,
    "server": ServerSettings,
}
_POSITIVE = {
    "max_stories", "sentences", "per_story", "max_words", "concurrency", "per_host", "timeout",
    "max_bytes", "size_budget_kb", "logo_width", "logo_height",
}  # fmt: skip
_NON_NEGATIVE = {"lookback_days", "max_redirects", "rate", "retries", "backoff", "grace_minutes"}
_NON_NEGATIVE.add("summary_sentences")
_POSITIVE.add("port")
_SHARE = {"abuse_threshold"}
_POSITIVE |= {"confirm_hours", "subscribe_per_ip", "subscribe_per_address", "soft_bounce_limit"}


def load_config(path: Path | str, **overrides: Any) -> Config:
    """Load and validate config.toml; keyword overrides replace `[output] dir` etc."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file (run `digest init` to write one)") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read: {e}") from None
    return parse_config(text, base_dir=path.resolve().parent, name=str(path), **overrides)


def parse_config(text: str, base_dir: Path, name: str = "config.toml", **overrides: Any) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{name}: invalid TOML: {e}") from None
    problems: list[str] = []
    locate = _Locator(text)
    sections: dict[str, Any] = {}
    for key, value in data.items():
        if key == "feeds":
            sections["feeds"] = tuple(_read_feeds(value, locate, problems))
        elif key in _SECTIONS:
            if not isinstance(value, dict):
                problems.append(f"'{key}' must be a table ([{key}]){locate.line(None, key)}")
                continue
            sections[key] = _read_section(key, _SECTIONS[key], value, locate, problems)
        else:
            problems.append(f"unknown key '{key}'{locate.line(None, key)}")
    config = Config(**{k: v for k, v in sections.items() if v is not None}, base_dir=base_dir)
    for dotted, value in overrides.items():
        if value is None:
            continue
        section, _, key = dotted.partition("__")
        config = dataclasses.replace(
            config, **{section: dataclasses.replace(getattr(config, section), **{key: value})}
        )
    if problems:
        first, *rest = problems
        more = f" (and {len(rest)} more: {'; '.join(rest)})" if rest else ""
        raise ConfigError(f"{name}: {first}{more}")
    return config


def _read_feeds(value: Any, locate: _Locator, problems: list[str]) -> list[FeedSettings]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        problems.append(
            f"'feeds' must be an array of tables ([[feeds]]){locate.line(None, 'feeds')}"
        )
        return []
    feeds = []
    for index, table in enumerate(value):
        section = f"feeds[{index}]"
        if "url" not in table:
            problems.append(f"'{section}.url' is required{locate.line('feeds', None, index)}")
            continue
        feed = _read_section(section, FeedSettings, table, locate, problems, index=index)
        if feed is not None:
            feeds.append(feed)
    return feeds


def _read_section(
    section: str,
    cls: type,
    table: dict[str, Any],
    locate: _Locator,
    problems: list[str],
    index: int | None = None,
) -> Any:
    hints = typing.get_type_hints(cls)
    header = section.split("[")[0]
    values: dict[str, Any] = {}
    before = len(problems)
    for raw_key, value in table.items():
        key = _KEY_ALIASES.get(raw_key, raw_key)
        where = locate.line(header, raw_key, index)
        if key not in hints or key.startswith("_"):
            problems.append(f"unknown key '{section}.{raw_key}'{where}")
            continue
        error = _check(key, hints[key], value)
        if error:
            problems.append(f"'{section}.{raw_key}' {error}{where}")
            continue
        values[key] = float(value) if hints[key] is float else value
    if len(problems) > before:
        return None
    return cls(**values)


def _check(key: str, expected: Any, value: Any) -> str | None:
    if typing.get_origin(expected) is Literal:
        choices = typing.get_args(expected)
        if value not in choices:
            return f"must be one of {', '.join(repr(c) for c in choices)}, not {value!r}"
        return None
    if expected is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif expected is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, expected)
    if not ok:
        return f"must be {_type_name(expected)}, not {type(value).__name__} {value!r}"
    if key in _POSITIVE and value < 1:
        return f"must be at least 1, not {value!r}"
    if key in _NON_NEGATIVE and value < 0:
        return f"must not be negative, not {value!r}"
    if key in _SHARE and not 0 <= value <= 1:
        return f"must be between 0 and 1, not {value!r}"
    if key == "base_url" and value:
        return _check_base_url(value)
    if key == "bounce_address" and value and not re.fullmatch(r"[^@\s+<>]+@[^@\s<>]+", value):
        return f'must be a bare address without "+", like "bounces@example.org", not {value!r}'
    return None


_BASE_URL = re.compile(r"(https?)://([A-Za-z0-9.\-]+|\[[0-9a-fA-F:]+\])(:\d+)?(/[^\s?#]*)?")


def _check_base_url(value: str) -> str | None:
    """https, or http on loopback only: RFC 8058 one-click needs https on the internet."""
    match = _BASE_URL.fullmatch(value)
    if not match:
        return f'must be an http(s) URL like "https://news.example.org", not {value!r}'
    host = match.group(2)
    if match.group(1) == "http" and not (host == "localhost" or host.startswith("127.")):
        return f"must use https (http only for localhost), not {value!r}"
    return None


def _type_name(t: Any) -> str:
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false"}.get(
        t, str(t)
    )


class _Locator:
    """Finds the line of a key in the TOML text, for messages (tomllib gives none)."""

    _HEADER = re.compile(r"^\s*\[(\[)?\s*([A-Za-z0-9_.\-]+)\s*\]")

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def line(self, section: str | None, key: str | None, index: int | None = None) -> str:
        current: str | None = None
        seen: dict[str, int] = {}
        for number, line in enumerate(self.lines, start=1):
            header = self._HEADER.match(line)
            if header:
                current = header.group(2)
                seen[current] = seen.get(current, -1) + 1
                if key is None and current == section and seen[current] == (index or 0):
                    return f" (line {number})"
                if section is None and current == key:
                    return f" (line {number})"
                continue
            if key is None or current != section:
                continue
            if index is not None and seen.get(current or "") != index:
                continue
            if re.match(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=", line):
                return f" (line {number})"
        return ""


STARTER_CONFIG = """\
# digest configuration: see the README for every key.

[newsletter]
title = "My Digest"
description = "The week's stories and the best of the conversation."
max_stories = 10
lookback_days = 7
language = "en"
from = "My Digest <digest@example.com>"
unsubscribe = "mailto:digest@example.com?subject=unsubscribe"
postal_address = ""

[[feeds]]
url = "https://www.thetruthaboutcars.com/feed/"
full_text = "auto"    # "auto" | "always" | "never"

[summary]
sentences = 3

[comments]
per_story = 3

[output]
dir = "output"
"""
