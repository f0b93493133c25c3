"""Duplex links and a topology builder with deterministic per-link seeds.

    topo = Topology(loop, seed=1)
    wire = topo.link(h1, h2, rate_bps=parse_rate("100mbit"), delay_ns=parse_time("5ms"))
    wire.link_from(h1).send(frame)          # h2.receive_frame(frame, wire.ab) later
    topo.capture(wire, PcapWriter("h1h2.pcap"))

Each direction gets its own ``random.Random``, seeded from SHA-256 of
(topology seed, link name, direction): the same seed and names give the same run,
whatever order other links were added in; a different seed gives a different run.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Unpack

from tuxnet.loop.base import EventLoop
from tuxnet.sim.config import LinkConfig, LinkParams
from tuxnet.sim.link import FrameReceiver, Link, PacketSink

__all__ = ["DuplexLink", "Topology", "derive_seed"]


def derive_seed(seed: int, *parts: str) -> int:
    """A 64-bit seed from a parent seed and names (stable across runs and platforms)."""
    h = hashlib.sha256(repr(seed).encode())
    for part in parts:
        h.update(b"\x00" + part.encode())
    return int.from_bytes(h.digest()[:8], "big")


class DuplexLink:
    """Two Links between endpoints ``a`` and ``b``: ``ab`` carries a->b, ``ba`` b->a."""

    __slots__ = ("a", "ab", "b", "ba", "name")

    def __init__(
        self, name: str, a: FrameReceiver, b: FrameReceiver, ab: Link, ba: Link
    ) -> None:
        if a is b:
            raise ValueError("a duplex link needs two distinct endpoints")
        self.name = name
        self.a = a
        self.b = b
        self.ab = ab
        self.ba = ba
        ab.connect(b)
        ba.connect(a)

    def __repr__(self) -> str:
        return f"<DuplexLink {self.name}>"

    @property
    def links(self) -> tuple[Link, Link]:
        return (self.ab, self.ba)

    def link_from(self, endpoint: object) -> Link:
        """The Link that ``endpoint`` transmits on."""
        if endpoint is self.a:
            return self.ab
        if endpoint is self.b:
            return self.ba
        raise ValueError(f"{endpoint!r} is not an endpoint of {self.name}")

    def peer(self, endpoint: object) -> FrameReceiver:
        """The endpoint at the other end."""
        return self.b if self.link_from(endpoint) is self.ab else self.a

    def send(self, endpoint: object, frame: bytes | bytearray | memoryview) -> bool:
        """Send ``frame`` from ``endpoint`` to the other end."""
        return self.link_from(endpoint).send(frame)

    def stats(self) -> dict[str, dict[str, int]]:
        return {self.ab.name: self.ab.stats(), self.ba.name: self.ba.stats()}


class Topology:
    """Builds links between endpoints; owns their seeds and names."""

    __slots__ = ("_items", "loop", "seed")

    def __init__(self, loop: EventLoop, *, seed: int = 0) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"seed must be an int, got {seed!r}")
        self.loop = loop
        self.seed = seed
        self._items: dict[str, DuplexLink | Link] = {}  # by name, in creation order

    def _claim(self, name: str | None) -> str:
        if name is None:
            name = f"link{len(self._items)}"
        if not name or name in self._items:
            raise ValueError(f"link name {name!r} is empty or already used")
        return name

    @staticmethod
    def _config(config: LinkConfig | None, params: LinkParams) -> LinkConfig:
        if config is None:
            return LinkConfig(**params)
        return replace(config, **params) if params else config

    def link(
        self,
        a: FrameReceiver,
        b: FrameReceiver,
        config: LinkConfig | None = None,
        *,
        name: str | None = None,
        reverse: LinkConfig | None = None,
        **params: Unpack[LinkParams],
    ) -> DuplexLink:
        """A duplex link a<->b; ``reverse`` (default: same as forward) sets b->a."""
        if a is b:
            raise ValueError("a duplex link needs two distinct endpoints")
        name = self._claim(name)
        fwd = self._config(config, params)
        rev = fwd if reverse is None else reverse
        ab = Link(self.loop, fwd, seed=derive_seed(self.seed, name, "ab"), name=name + ".ab")
        ba = Link(self.loop, rev, seed=derive_seed(self.seed, name, "ba"), name=name + ".ba")
        duplex = DuplexLink(name, a, b, ab, ba)
        self._items[name] = duplex
        return duplex

    def simplex(
        self,
        receiver: FrameReceiver,
        config: LinkConfig | None = None,
        *,
        name: str | None = None,
        **params: Unpack[LinkParams],
    ) -> Link:
        """A one-way link delivering to ``receiver``; anyone may ``send`` on it."""
        name = self._claim(name)
        link = Link(self.loop, self._config(config, params),
                    seed=derive_seed(self.seed, name), name=name, receiver=receiver)
        self._items[name] = link
        return link

    def capture(self, target: Link | DuplexLink, sink: PacketSink) -> None:
        """Record every frame put on ``target`` (both directions of a duplex link)."""
        links = target.links if isinstance(target, DuplexLink) else (target,)
        for link in links:
            link.add_tap(sink)

    def __getitem__(self, name: str) -> DuplexLink | Link:
        """A duplex or simplex link by the name given to ``link``/``simplex``."""
        return self._items[name]

    def __len__(self) -> int:
        return len(self._items)

    def all_links(self) -> list[Link]:
        """Every one-way Link, in creation order (ab before ba)."""
        out: list[Link] = []
        for item in self._items.values():
            if isinstance(item, DuplexLink):
                out.extend(item.links)
            else:
                out.append(item)
        return out

    def stats(self) -> dict[str, dict[str, int]]:
        """Counters of every one-way link, keyed by its name."""
        return {link.name: link.stats() for link in self.all_links()}
