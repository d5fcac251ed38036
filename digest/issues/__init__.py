"""Issues: the only code that reads or writes `output/<issue-id>/` and the archive.

`codec` is the one reader and writer of `issue.json`, `files` writes an issue
folder atomically and reads issues back, `publish` renders and writes one
issue and the archive, `message` builds the MIME message, and `preview`
serves the folder to a browser.
"""
