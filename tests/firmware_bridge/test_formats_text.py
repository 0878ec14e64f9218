"""read_text_recording: which reader a text file goes to, and that nothing but RecordingError comes out."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_bridge.formats import ChannelRole, RecordingError, read_text_recording, sniff_text

NS0 = 599636646177065964
POLAR = "Phone timestamp;sensor timestamp [ns];X [mg];Y [mg];Z [mg]\n" + "".join(
    f"2026-07-16T23:02:{11 + i // 52:02d}.{(i * 19) % 1000:03d};{NS0 + i * 19_230_769};{i % 7};980;-{i % 5}\n"
    for i in range(200)
)
OPENBCI = (
    "%OpenBCI Raw EXG Data\n%Number of channels = 1\n%Sample Rate = 250 Hz\n%Board = OpenBCI_GUI$BoardCytonSerial\n"
    "Sample Index, EXG Channel 0, Accel Channel 0, Accel Channel 1, Accel Channel 2, Timestamp\n"
    + "".join(f"{i % 256}, {(-1) ** i * 12.5:.2f}, 0.0, 0.0, 0.0, {1763852531.0 + i / 250:.3f}\n" for i in range(600))
)
CSV = "time_s,emg_right_uv\n" + "".join(f"{i / 500:.3f},{(-1) ** i * 3.0}\n" for i in range(600))


@pytest.mark.parametrize(
    ("text", "kind", "fmt", "stream"),
    [
        (POLAR, "polar", "Polar Sensor Logger", "acc:left"),
        (OPENBCI, "openbci", "OpenBCI GUI", "emg:left"),
        (CSV, "csv", "CSV", "emg:right"),
    ],
)
@pytest.mark.parametrize("packed", [False, True])
def test_each_layout_goes_to_its_reader_plain_or_gzipped(
    tmp_path: Path, text: str, kind: str, fmt: str, stream: str, packed: bool
) -> None:
    path = tmp_path / ("rec.txt.gz" if packed else "rec.txt")
    path.write_bytes(gzip.compress(text.encode()) if packed else text.encode())
    assert sniff_text(path) == kind
    rec = read_text_recording(path, leg="left")
    assert rec.format == fmt and rec.signals[0].info.name == stream


def test_other_text_is_refused_with_its_first_line(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("Dear diary, my calf cramped twice\nagain\n")
    with pytest.raises(RecordingError) as err:
        read_text_recording(path)
    assert str(err.value) == (
        f"{path} is not a text recording NightCramp reads (a Polar Sensor Logger ACC/ECG file, an OpenBCI GUI raw "
        "file or the simple CSV with a time_s column); its first line is 'Dear diary, my calf cramped twice'"
    )


def test_channel_map_reaches_the_reader(tmp_path: Path) -> None:
    path = tmp_path / "rec.txt"
    path.write_text(OPENBCI)
    rec = read_text_recording(path, channels={"EXG Channel 0": ChannelRole("emg", "right", None)})
    assert [s.info.name for s in rec.signals] == ["emg:right"]
    # a CSV whose signal columns are all named by the map is still a CSV
    path.write_text(
        "# fs_hz: 500\nCalf EMG;note\n" + "".join(f"{(-1) ** i * 3},1\n".replace(",", ";") for i in range(600))
    )
    assert sniff_text(path) is None
    rec = read_text_recording(path, channels={"calf emg": ChannelRole("emg", "left", None)})
    assert rec.format == "CSV" and [s.info.name for s in rec.signals] == ["emg:left"]
    assert rec.signals[0].data.size == 600 and rec.signals[0].info.fs_hz == 500.0


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.binary(max_size=400),
    prefix=st.sampled_from(
        [b"", b"%OpenBCI Raw EXG Data\n", POLAR[:60].encode(), b"time_s,emg_left_uv\n", b"\x1f\x8b"]
    ),
)
def test_fuzz_random_bytes_only_raise_recording_error(tmp_path: Path, data: bytes, prefix: bytes) -> None:
    path = tmp_path / "fuzz.txt"
    path.write_bytes(prefix + data)
    try:
        read_text_recording(path)
    except RecordingError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc)
