"""digest: news feeds in, a reader newsletter out."""

__version__ = "0.1.0"
