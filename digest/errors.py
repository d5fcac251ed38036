"""Every error digest raises on purpose, each with a message that says what to do next.

DigestError                 the CLI prints the message on one line (exit code in the README)
├── ConfigError             config.toml, a theme file or an environment variable is wrong
├── FetchError              one URL could not be fetched (costs only that feed, page or thread)
│   └── RefusedError        a URL found in content points where the fetch policy forbids
├── FeedError               a fetched body is not a usable feed, page or comment thread
├── BounceError             a mailbox of bounce reports cannot be read
├── RenderError             a template failed (names the file and line)
├── SubscriberError         a bad address, a bad CSV, or an unknown subscriber or token
│   └── ExpiredTokenError   a genuine confirmation link, too old to use
├── StateError              the state (file or database) is locked, damaged or unreachable
└── DeliveryError           writing the issue or sending it failed
    ├── TransientError      a 4xx reply or a lost connection: worth another try later
    │   └── RecipientDeferred   a 4xx for one recipient: that reader waits, the run goes on
    ├── PermanentError      a 5xx reply for one recipient: recorded, never retried
    ├── UnknownOutcome      the server never answered the end of DATA: maybe delivered
    └── LockedError         another build (or the scheduler's) holds the state's build lock

NoReply (not a DigestError) is a signal inside the SMTP connection, turned into
UnknownOutcome before it leaves it.

Library exceptions are wrapped where they cross into digest (`raise … from e`),
so nothing else reaches the CLI but a bug, which is shown with its traceback.
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


class BounceError(DigestError):
    pass


class SubscriberError(DigestError):
    pass


class ExpiredTokenError(SubscriberError):
    pass


class StateError(DigestError):
    pass


class DeliveryError(DigestError):
    pass


class TransientError(DeliveryError):
    pass


class RecipientDeferred(TransientError):
    pass


class PermanentError(DeliveryError):
    pass


class UnknownOutcome(DeliveryError):
    pass


class LockedError(DeliveryError):
    pass


class NoReply(Exception):
    """The message went out whole and the reply to its final "." never came.

    Raised inside the SMTP connection and turned into UnknownOutcome there; it
    is not a DigestError because no user ever sees it.
    """
