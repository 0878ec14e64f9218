"""Sources: where packets come from. Live bands, a recorded journal or a simulated night all yield the
same items (:class:`~firmware_bridge.sources.base.Packet`, device information and connection events), so
everything downstream (recorder, detector, live view) cannot tell them apart."""

from firmware_bridge.sources.base import Item, Packet, Source
from firmware_bridge.sources.replay import ReplaySource
from firmware_bridge.sources.synthetic import SyntheticSource, synthesize

__all__ = ["Item", "Packet", "ReplaySource", "Source", "SyntheticSource", "synthesize"]
