"""The reporting chain as explicit messages over a network of hops.

A notice travels hop by hop (visitor → staff → control room → police); each hop draws its
delay and whether the message is lost from the configuration's :class:`~sim.schema.Hop`.
Messages wait in a time-ordered queue and are delivered by the model's clock.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field

import numpy as np

from sim.schema import Hop


@dataclass(order=True)
class Message:
    """One message in flight: what it is about, where it goes and when it arrives."""

    arrives_at: float
    seq: int
    kind: str = field(compare=False)  # "suspect", "attack" or "false_alarm"
    to: str = field(compare=False)  # "staff:<id>", "private_room", "police"
    about: int = field(compare=False)  # attacker id, -1 for false alarms
    hop: str = field(compare=False)
    sender: str = field(compare=False)


class Network:
    """Messages in flight; hops draw delay and loss from one random stream."""

    def __init__(self, rng: np.random.Generator) -> None:
        """Create an empty network drawing from ``rng``."""
        self.rng = rng
        self._queue: list[Message] = []
        self._seq = itertools.count()
        self.sent = 0
        self.lost = 0

    def send(
        self, now: float, hop_name: str, hop: Hop, *, kind: str, to: str, about: int, sender: str
    ) -> Message | None:
        """Send over ``hop``; None when the hop loses it."""
        self.sent += 1
        lost = self.rng.random() < hop.loss
        delay = float(hop.delay_s.sample(self.rng))
        if lost:
            self.lost += 1
            return None
        msg = Message(now + delay, next(self._seq), kind, to, about, hop_name, sender)
        heapq.heappush(self._queue, msg)
        return msg

    def due(self, now: float) -> list[Message]:
        """Messages that have arrived by ``now``, in arrival order."""
        out = []
        while self._queue and self._queue[0].arrives_at <= now:
            out.append(heapq.heappop(self._queue))
        return out
