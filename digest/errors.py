"""Errors users see, each with a message that says what to do next.

DigestError
├── ConfigError      config.toml is missing, malformed or has a wrong key
├── FetchError       one URL could not be fetched (costs only that feed/page)
│   └── RefusedError a URL found in content points where the fetch policy forbids
├── FeedError        a fetched body is not a usable feed
├── RenderError      a template failed (names the file and line)
└── DeliveryError    writing the issue (or sending it) failed
"""


class DigestError(Exception):
    """Base class: the CLI prints the message on one line and exits non-zero."""


class ConfigError(DigestError):
    pass


class FetchError(DigestError):
    pass


class RefusedError(FetchError):
    """Not fetched: the fetch policy keeps content URLs off private addresses."""


class FeedError(DigestError):
    pass


class RenderError(DigestError):
    pass


class DeliveryError(DigestError):
    pass
