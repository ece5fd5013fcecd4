"""The fork server's preload: imported there only (``pool._context``), never elsewhere.

It imports the children's code once, so each child is forked ready in milliseconds, and it
makes the fork server ignore SIGTERM: a service manager's SIGTERM to the whole group is the
parent's to act on (its grace period), and a fork server that died of it would take with it
the only way to learn its children's exit, so that every child would look dead at once. The
children inherit the ignored SIGTERM; the fork server ends when the parent does.
"""

from __future__ import annotations

import signal

import moorage.worker.pool  # noqa: F401  the children's code

signal.signal(signal.SIGTERM, signal.SIG_IGN)
