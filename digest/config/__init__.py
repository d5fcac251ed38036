"""Read `config.toml` into typed, frozen settings.

Each section is a dataclass; its fields are the only keys allowed, and their
annotations are the types checked; `checks.py` has each key's range or
form (colours, addresses, cron…) and `rules.py` the keys that go together.
Every problem in the file is reported with its key and line (`read.py`),
then loading stops once with a `ConfigError` listing them all.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from digest.config.checks import is_database_url
from digest.config.read import Reader
from digest.errors import ConfigError

FullText = Literal["auto", "always", "never"]
CommentsMode = Literal["auto", "none", "wordpress", "reddit", "hackernews", "discourse", "mastodon"]
SummaryAlgorithm = Literal[
    "auto", "lead", "lexrank", "textrank", "lsa", "luhn", "edmundson", "sumbasic", "kl",
    "reduction",
]  # fmt: skip
FeedSummaryAlgorithm = Literal["", SummaryAlgorithm]
SmtpSecurity = Literal["starttls", "tls", "none"]

ABUSE_ALLOW = "hell, damn, damned, crap, crappy, sucks, suck, bloody, screw, screwed"
"""Mild words car talk needs, which the abuse classifier would otherwise count."""
ABUSE_THRESHOLD = 0.8
"""Classifier probability from which a comment is abusive (measured in comments/filters.py)."""


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
    """Language of the newsletter's own words (and the default for feeds); "auto": the
    language most of each issue's stories are in, so one email speaks one language."""
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
    max_source_share: float = 0.4
    """No source fills more of an issue than this when 3+ sources have news; 1 turns it off."""

    @property
    def fixed_language(self) -> str:
        """`language` where one is set; English for "auto" (pages spanning issues, and the
        fallback when a story's language cannot be told)."""
        return "en" if self.language in ("", "auto") else self.language


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
    # Selection (digest/select/): what of this feed an editor lets into an issue.
    sponsored: bool = False
    """Keep sponsored, advertising, job and affiliate-deal posts (left out by default)."""
    include: tuple[str, ...] = ()
    """Only stories matching one of these: a word or phrase, or a /regular expression/."""
    exclude: tuple[str, ...] = ()
    """Leave out stories matching any of these (same forms as `include`)."""
    section: str = ""
    """Heading this feed's stories go under in the email, web page and text part."""


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
    abuse_allow: str = ABUSE_ALLOW
    """Comma-separated words the abuse list should not count (mild words car talk needs)."""
    abuse_words: str = ""
    """Comma-separated extra words that make a comment abusive."""
    abuse_threshold: float = ABUSE_THRESHOLD
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
    concurrency: int = 128
    """Requests in flight at once (over HTTP/2, requests to one host share a connection)."""
    per_host: int = 4
    """Requests in flight at once to any one host."""
    max_redirects: int = 5
    allow_private: tuple[str, ...] = ()
    """Private addresses URLs found in feeds may reach: IPs, CIDR networks, host names."""
    build_timeout: float = 900.0
    """Seconds the gathering of one build may take (feeds the first half of it): feeds and
    stories still unfinished then are left out, each with a warning; the issue is the rest."""


@dataclass(frozen=True)
class StateSettings:
    path: str = "digest-state.sqlite"
    """SQLite file remembering what was sent, HTTP validators and summaries."""
    url: str = ""
    """A PostgreSQL database instead of the file, shared by several machines:
    "postgresql://digest@db.example.org/digest" (the password in PGPASSWORD or ~/.pgpass)."""


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
    data_timeout: float = 600.0
    """Seconds to wait for the reply to the end of DATA (RFC 5321 4.5.3.2: 10 minutes)."""
    defer_minutes: float = 15.0
    """A reader whose address got a 4xx is tried again after this long, doubling (6 h at most)."""
    give_up_hours: float = 48.0
    """A reader still getting 4xx replies this long after the first is recorded as failed."""
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
    workers: int = 1
    """SMTP connections one `digest send` uses at once (`--workers` overrides)."""
    relays: tuple[str, ...] = ()
    """More relays used together with `host`, as "host:port" (the other settings shared):
    the connections take `host` and these in turn."""
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
    def state_target(self) -> Path | str:
        """The SQLite file, or the PostgreSQL URL (`DIGEST_STATE` overrides either)."""
        env = os.environ.get("DIGEST_STATE")
        if env:
            return env if is_database_url(env) else Path(env)
        return self.state.url or self.resolve(self.state.path)

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


_MAX_CONFIG_BYTES = 1_000_000


def load_config(path: Path | str) -> Config:
    """Load and check config.toml: a Config, or one ConfigError listing every problem."""
    path = Path(path)
    try:
        # A FIFO, a device or a folder would block or fail mid-read: refused before opening.
        if path.exists() and not path.is_file():
            raise ConfigError(f"{path}: not a regular file (give the path of a config.toml)")
        if path.exists() and path.stat().st_size > _MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: larger than {_MAX_CONFIG_BYTES // 1000} KB; not a config")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file (run `digest init` to write one)") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from None
    return parse_config(text, base_dir=path.resolve().parent, name=str(path))


def parse_config(text: str, base_dir: Path, name: str = "config.toml") -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{name}: invalid TOML: {e}") from None
    reader = Reader(text, _KEY_ALIASES)
    sections: dict[str, Any] = {}
    for key, value in data.items():
        if key == "feeds":
            sections[key] = tuple(reader.array(key, FeedSettings, value))
        elif key in _SECTIONS:
            sections[key] = reader.table(key, _SECTIONS[key], value)
        else:
            reader.unknown(key)
    config = Config(**{k: v for k, v in sections.items() if v is not None}, base_dir=base_dir)
    reader.check_rules(config, config.resolve)
    reader.fail(name)
    return config


STARTER_CONFIG = """\
# digest configuration: see the README for every key.

[newsletter]
title = "My Digest"
description = "The week's stories and the best of the conversation."
max_stories = 10
lookback_days = 7
language = "auto"
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
