"""The development broker: kombu's filesystem transport, with messages written atomically.

kombu writes a message file in place while another worker may already move and read it, so a
reader can see a half-written file and the worker dies on the JSON error. Here each message is
written under a name no reader picks up, then renamed into place (an atomic step on one
filesystem). The ``filesystem`` alias points at this transport, so ``filesystem://`` URLs use it.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic
from typing import Any

from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    # The stubs of kombu's filesystem channel and of its base disagree on this signature.
    def _put(self, queue: str, payload: dict[str, Any], **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = f"{final}.partial"  # readers only take names ending in ".<queue>.msg"
        with open(partial, "wb") as handle:
            handle.write(str_to_bytes(dumps(payload)))
        os.replace(partial, final)


class Transport(filesystem.Transport):
    Channel = Channel


TRANSPORT_ALIASES["filesystem"] = "config.broker:Transport"
