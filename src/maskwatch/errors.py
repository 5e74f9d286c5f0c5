"""The error type for failures a user can fix (a missing extra, a damaged install, bad data).

The CLI prints these as one line and exits 2; any other exception is a bug: one line, the full
traceback in a file, exit 3. (ValueError and OSError are treated as user errors too: bad input
and unreadable files raise them throughout.)"""

from __future__ import annotations


class MaskwatchError(RuntimeError):
    """A user-facing failure: its message is the whole story, in one line."""
