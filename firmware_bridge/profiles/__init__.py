"""Device profiles: one module per band, and the explicit registry :data:`PROFILES`."""

from __future__ import annotations

from firmware_bridge.profiles import ganglion, metawear, movesense, nus_emg, polar
from firmware_bridge.profiles.base import Decoded, DeviceProfile, SampleBlock, StreamSpec

PROFILES: dict[str, DeviceProfile] = {
    p.name: p for p in (nus_emg.PROFILE, polar.PROFILE, ganglion.PROFILE, metawear.PROFILE, movesense.PROFILE)
}


def get_profile(name: str) -> DeviceProfile:
    """The profile called ``name``; ``KeyError`` lists the known names."""
    try:
        return PROFILES[name]
    except KeyError:
        raise KeyError(f"unknown device profile {name!r}; known profiles: {', '.join(sorted(PROFILES))}") from None


__all__ = ["PROFILES", "Decoded", "DeviceProfile", "SampleBlock", "StreamSpec", "get_profile"]
