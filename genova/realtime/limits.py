"""What one WebSocket may cost the server.

Messages from clients are small: ``/ws/user`` clients only ping, extensions send progress
and completion notes (result files go over HTTP). Bigger messages are refused with 1009.
Compression is not negotiated: wsproto inflates a whole frame at once, so a 255 KiB
deflated frame could become 256 MiB in memory before any size check could see it.
"""

from __future__ import annotations

import logging
import resource

import simple_websocket.ws
from wsproto.extensions import PerMessageDeflate

USER_MAX_MESSAGE = 16 * 1024
EXTENSION_MAX_MESSAGE = 1024 * 1024
HTTP_ROOM = 1000  # connections a web process keeps for HTTP beyond its sockets
FILE_RESERVE = 256  # descriptors for the database, Redis, logs and files


def socket_cap(max_sockets: int) -> int:
    """How many sockets one web process admits: GENOVA_MAX_SOCKETS, within the open-file
    limit (raised to its hard maximum first) less room for HTTP and everything else."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    fits = max(0, soft - FILE_RESERVE - HTTP_ROOM)
    if max_sockets > fits:
        logging.getLogger(__name__).warning(
            "GENOVA_MAX_SOCKETS=%d does not fit the open-file limit %d; admitting %d",
            max_sockets, soft, fits)
    return min(max_sockets, fits)


class _Declined(PerMessageDeflate):
    """Offered by simple-websocket to every client; accepts nothing, so no compression."""

    def accept(self, offer):
        return None


def decline_compression() -> None:
    """simple-websocket hard-codes permessage-deflate in its handshake; swap in a version
    that declines it (idempotent, process-wide: every socket of this server)."""
    simple_websocket.ws.PerMessageDeflate = _Declined
