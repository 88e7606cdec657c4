"""The open-files limit: raised where the process may, and named where it is the cause.

A model or voice load that meets it fails inside its engine with that engine's own
words (CTranslate2: "Cannot load the vocabulary"), which send an operator to the model
folder, not to ``ulimit -n``.
"""

from __future__ import annotations

import errno
import os

# Descriptors left below the limit at which a failure is put down to it: a load opens
# a few files at once, and the sockets of calls come and go meanwhile.
NEAR_LIMIT = 16


def raise_open_files_limit() -> int:
    """The soft limit on open files raised to the hard one (as Go's runtime and nginx's
    worker_rlimit_nofile do); returns it. At the limit, uvloop resets every new
    connection, health checks included, and nothing in the log says why: a 1024 soft
    limit (a common default) holds fewer calls than the servers admit with idle
    keep-alive connections beside them."""
    try:
        import resource
    except ImportError:  # not POSIX
        return -1
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = 1 << 16 if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


def near_limit_note() -> str:
    """A clause for a failure's log line when open files are at (or near) the limit;
    empty otherwise, or where it cannot be told."""
    try:
        import resource
    except ImportError:  # not POSIX
        return ""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        in_use = len(os.listdir("/proc/self/fd")) - 1  # (less listdir's own)
    except OSError as exc:  # at the limit, the listing itself finds no descriptor
        if exc.errno != errno.EMFILE:
            return ""
        in_use = soft
    if soft == resource.RLIM_INFINITY or in_use < soft - NEAR_LIMIT:
        return ""
    return (f" ({in_use} files open of the open files limit (ulimit -n) {soft}: the "
            "likelier cause; raise it)")
