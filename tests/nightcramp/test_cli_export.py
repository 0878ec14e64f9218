"""``cramp export`` and ``cramp analyze --edf`` as a user runs them: real files, read back by edfio."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import edfio
import pytest

from nightcramp.cli import main

CRAMP = [sys.executable, "-m", "nightcramp"]


def test_export_and_analyze_edf_write_the_same_private_file_with_every_event(
    short_recording: Path, tmp_path: Path
) -> None:
    out = tmp_path / "night.edf"
    p = subprocess.run([*CRAMP, "export", str(short_recording), str(out)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    assert f"Wrote the EDF+ to {out} (8 channels," in p.stdout
    assert out.stat().st_mode & 0o777 == 0o600

    also = tmp_path / "also.edf"
    assert main(["analyze", str(short_recording), "--json", str(tmp_path / "n.json"), "--edf", str(also)]) == 0
    assert also.stat().st_mode & 0o777 == 0o600
    a, b = edfio.read_edf(out), edfio.read_edf(also)
    assert a.annotations == b.annotations and a.labels == b.labels
    assert a.recording.equipment_code.startswith("NightCramp_")

    doc = json.loads((tmp_path / "n.json").read_text())
    in_file = Counter((round(x.onset, 3), round(x.duration or 0.0, 3)) for x in a.annotations)
    wanted = Counter((e["start_s"], round(e["end_s"] - e["start_s"], 3)) for e in doc["events"])
    assert not wanted - in_file, "an event of the night JSON is missing from the EDF+"
    assert sum(x.text.startswith("Cramp ") for x in a.annotations) == doc["summary"]["cramp_count"] == 2
    texts = {x.text for x in a.annotations}
    assert {"Sleep onset", "Final wake", "Awakening", "Out of bed"} <= texts


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["export", "{rec}", "{tmp}"], "is a folder; give the name of the EDF+ file to write"),
        (["export", "{rec}", "{rec}"], "is the recording being exported; give another name"),
        (["export", "{tmp}/none.ncr", "{tmp}/x.edf"], "none.ncr does not exist"),
        (["export", "{rec}", "{tmp}/no/such/dir/x.edf"], "/no/such/dir does not exist; create it"),
        (["analyze", "{rec}", "--edf", "{tmp}"], "is a folder; give the name of the EDF+ file to write"),
    ],
)
def test_bad_export_paths_get_one_sentence_and_status_2(
    args: list[str], message: str, short_recording: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [a.format(rec=short_recording, tmp=tmp_path) for a in args]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1
    assert short_recording.stat().st_size > 0  # the recording is never touched
