"""What one WebSocket may cost the server.

Messages from clients are small: ``/ws/user`` clients only ping, extensions send progress
and completion notes (result files go over HTTP). Bigger messages are refused with 1009.
Compression is not negotiated: wsproto inflates a whole frame at once, so a 255 KiB
deflated frame could become 256 MiB in memory before any size check could see it.
"""

from __future__ import annotations

import simple_websocket.ws
from wsproto.extensions import PerMessageDeflate

USER_MAX_MESSAGE = 16 * 1024
EXTENSION_MAX_MESSAGE = 1024 * 1024


class _Declined(PerMessageDeflate):
    """Offered by simple-websocket to every client; accepts nothing, so no compression."""

    def accept(self, offer):
        return None


def decline_compression() -> None:
    """simple-websocket hard-codes permessage-deflate in its handshake; swap in a version
    that declines it (idempotent, process-wide: every socket of this server)."""
    simple_websocket.ws.PerMessageDeflate = _Declined
