"""The exported EDF+ opened in EDFbrowser, the viewer clinicians use, under a virtual X display.

Runs when ``edfbrowser``, ``Xvfb`` and ``xwd`` are installed (CI installs the Debian packages edfbrowser,
xvfb and x11-apps). EDFbrowser is driven over its loopback remote-control port: it must open the file as
EDF+ without an error, find every channel by its label (and refuse a label that is not there), and draw
the traces; a screenshot of the whole display is then checked. Set ``NIGHTCRAMP_EDFBROWSER_SCREENSHOT``
to a path to keep the screenshot as PNG (``docs/edfbrowser-export.png`` was made that way).
"""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from firmware_bridge.formats.edf_export import write_edf_plus
from firmware_bridge.formats.native import journal_recording, start_datetime
from firmware_bridge.journal import read_journal
from nightcramp.session import analyze_journal

TOOLS = ("edfbrowser", "Xvfb", "xwd")
pytestmark = pytest.mark.skipif(
    any(shutil.which(t) is None for t in TOOLS),
    reason="needs edfbrowser, Xvfb and xwd (Debian: edfbrowser xvfb x11-apps)",
)
WIDTH, HEIGHT = 1280, 800
TIMEOUT_S = 20.0
NO_ERROR, NOT_FOUND = "0", "207"  # EDFbrowser's remote-control error codes


# -- a virtual display, EDFbrowser and its remote control -------------------------------------------
def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture
def display() -> Iterator[str]:
    """A fresh Xvfb display; the server picks a free display number and reports it on a pipe."""
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{WIDTH}x{HEIGHT}x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    try:
        number = b""
        deadline = time.monotonic() + TIMEOUT_S
        os.set_blocking(read_fd, False)
        while not number.endswith(b"\n") and time.monotonic() < deadline and proc.poll() is None:
            try:
                number += os.read(read_fd, 16)
            except BlockingIOError:
                time.sleep(0.05)
        assert number.strip().isdigit(), "Xvfb did not start"
        yield f":{number.decode().strip()}"
    finally:
        os.close(read_fd)
        _stop(proc)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Remote:
    """EDFbrowser's remote control: one command per line; queries answer one line."""

    def __init__(self, port: int) -> None:
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            try:
                self._sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self._file = self._sock.makefile("rb")

    def query(self, text: str) -> str:
        self._sock.sendall(text.encode() + b"\n")
        return self._file.readline().decode().strip()

    def command(self, text: str) -> str:
        """Send a command; return the error code it left (``"0"``: none)."""
        self._sock.sendall(text.encode() + b"\n")
        deadline = time.monotonic() + TIMEOUT_S
        while self.query("*OPC?") != "1":  # still busy with it
            assert time.monotonic() < deadline, f"EDFbrowser did not finish {text!r}"
            time.sleep(0.05)
        return self.query("SYSTEM:ERROR?")

    def close(self) -> None:
        self._file.close()
        self._sock.close()


# -- screenshot: X window dump -> RGB array -> PNG ----------------------------------------------------
def read_xwd(data: bytes) -> npt.NDArray[np.uint8]:
    """An ``xwd`` dump of a 24/32-bit TrueColor screen as an ``(height, width, 3)`` RGB array."""
    h = struct.unpack(">25I", data[:100])  # XWDFileHeader, big-endian
    header_size, version, pixmap_format, _depth, width, height = h[:6]
    byte_order, bits_per_pixel, bytes_per_line = h[7], h[11], h[12]
    red_mask, green_mask, blue_mask, ncolors = h[14], h[15], h[16], h[19]
    assert version == 7 and pixmap_format == 2 and bits_per_pixel == 32, h
    start = header_size + 12 * ncolors  # after the window name and the colour map
    words = np.frombuffer(data[start : start + height * bytes_per_line], dtype="<u4" if byte_order == 0 else ">u4")
    pixels = words.reshape(height, bytes_per_line // 4)[:, :width]
    out = np.empty((height, width, 3), dtype=np.uint8)
    for i, mask in enumerate((red_mask, green_mask, blue_mask)):
        shift = (mask & -mask).bit_length() - 1
        out[..., i] = (pixels & mask) >> shift
    return out


def write_png(path: Path, rgb: npt.NDArray[np.uint8]) -> None:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    height, width, _ = rgb.shape
    rows = np.concatenate((np.zeros((height, 1), np.uint8), rgb.reshape(height, -1)), axis=1)  # filter 0
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(rows.tobytes(), 9)) + chunk(b"IEND", b"")
    path.write_bytes(png)


# -- the check ---------------------------------------------------------------------------------------
def test_edfbrowser_opens_the_export_and_draws_it(display: str, short_recording: Path, tmp_path: Path) -> None:
    journal = read_journal(short_recording)
    result = analyze_journal(journal)
    edf = tmp_path / "night.edf"
    export = write_edf_plus(
        edf,
        journal_recording(journal).signals,
        result.events,
        start_datetime(journal.start_unix_ns),
        duration_s=result.duration_s,
        sleep_onset_s=result.summary["sleep_onset_s"],
        final_wake_s=result.summary["final_wake_s"],
    )
    first_cramp = min(e.start_s for e in result.events if e.kind == "cramp")
    home = tmp_path / "home"
    (home / "run").mkdir(parents=True, mode=0o700)
    env = {**os.environ, "HOME": str(home), "XDG_RUNTIME_DIR": str(home / "run"), "DISPLAY": display}
    env["QT_QPA_PLATFORM"] = "xcb"  # a real X window (the test suite runs Qt offscreen otherwise)
    port = _free_port()
    viewer = subprocess.Popen(
        ["edfbrowser", "-geometry", f"{WIDTH}x{HEIGHT}+0+0", f"--rc-host-port={port}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        remote = Remote(port)
        try:
            assert remote.query("*IDN?").startswith("EDFbrowser")
            assert remote.command(f"FILE:OPEN {edf}") == NO_ERROR  # opened as EDF+, not refused (106/108)
            assert remote.command("SIGNAL:ADD:LABEL No such label 1") == NOT_FOUND
            for label in ("EMG Left", "EMG Right", "ACC Left X", "ACC Right X"):
                assert remote.command(f"SIGNAL:ADD:LABEL {label} 1") == NO_ERROR, label
            for label, per_cm in (("EMG Left", 50), ("EMG Right", 50), ("ACC Left X", 0.2), ("ACC Right X", 0.2)):
                assert remote.command(f"SIGNAL:AMPLITUDE:LABEL {label} {per_cm}") == NO_ERROR
            assert remote.command("SIGNAL:OFFSET:ADJUST:ALL") == NO_ERROR
            assert remote.command("TIMESCALE 60") == NO_ERROR
            assert remote.command(f"VIEWTIME {first_cramp - 15:.1f}") == NO_ERROR
            assert float(remote.query("VIEWTIME?")) == pytest.approx(first_cramp - 15, abs=0.1)
            deadline = time.monotonic() + TIMEOUT_S
            while True:  # the window repaints on its own time: look again until the traces are drawn
                time.sleep(0.5)
                shot = subprocess.run(
                    ["xwd", "-root", "-silent", "-display", display], capture_output=True, timeout=TIMEOUT_S, check=True
                ).stdout
                rgb = read_xwd(shot)
                if traces_drawn(rgb) or time.monotonic() > deadline:
                    break
        finally:
            remote.close()
    finally:
        _stop(viewer)

    if target := os.environ.get("NIGHTCRAMP_EDFBROWSER_SCREENSHOT"):
        write_png(Path(target), rgb)
    assert rgb.shape == (HEIGHT, WIDTH, 3)
    colours = np.unique(rgb.reshape(-1, 3), axis=0)
    assert len(colours) > 20, "the screen is (nearly) uniform: no window was drawn"
    assert traces_drawn(rgb), "EDFbrowser drew no traces"
    assert len(export.annotations) > 10


def traces_drawn(rgb: npt.NDArray[np.uint8]) -> bool:
    """EDFbrowser draws traces in yellow by default: four traces across most of the 60-s page."""
    trace = (rgb[..., 0] > 200) & (rgb[..., 1] > 200) & (rgb[..., 2] < 80)
    columns = np.flatnonzero(trace.any(axis=0))
    return bool(trace.sum() > 4 * 500 and columns.size and np.ptp(columns) > WIDTH // 2)
