"""The one error an audit raises for what the user gave it: a missing folder, an unreadable image,
a model folder without a UNet, an unknown attack. The command line prints its message and exits
with status 2, never a traceback."""

from __future__ import annotations


class AuditError(ValueError):
    """Something the user gave the audit cannot be used; the message says what and what to do."""
