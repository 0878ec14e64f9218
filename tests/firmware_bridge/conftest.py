"""Fixtures for the bridge tests: a private D-Bus system bus for the BlueZ double."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..bluez_double import private_system_bus


@pytest.fixture
def system_bus(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A private system bus; bleak in this test talks to it."""
    with private_system_bus() as address:
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", address)
        yield address
