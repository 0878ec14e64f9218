"""``cramp trend`` over 16 simulated nights where magnesium, from night 9 on, halves the cramp rate: the
table has each night's cramps, the rolling mean falls, and the before/after comparison finds the change
(rate ratio and permutation test); too few nights give a plain warning; a Dask cluster gives the same
table as the local processes."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from nightcramp.cli import main
from nightcramp.sidecar import Sidecar

BEFORE = [4, 3, 4, 5, 3, 4, 4, 3]  # cramps a night, then with magnesium about half as many
AFTER = [2, 1, 2, 2, 1, 2, 2, 3]


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("trend")
    for i, n in enumerate(BEFORE + AFTER):
        rec = d / f"night{i + 1:02d}.ncr"
        code = main(["simulate", str(rec), "--hours", "0.4", "--cramps", str(n), "--seed", str(100 + i),
                     "--emg-fs", "500", "--acc-fs", "50", "--date", f"2026-10-{i + 1:02d}"])  # fmt: skip
        assert code == 0
        side = Sidecar.load(rec)
        side.set_diary(tags=["magnesium"] if i >= len(BEFORE) else [], severity=min(10, 2 * n))
    return d


def cramp(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nightcramp", *args], capture_output=True, text=True, check=False)


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def test_the_trend_shows_that_magnesium_halved_the_cramps(nights: Path) -> None:
    run = cramp("trend", str(nights), "--compare", "magnesium")
    assert run.returncode == 0, run.stderr
    rows = read_rows(nights / "trend.csv")
    assert [r["file"] for r in rows] == [f"night{i:02d}.ncr" for i in range(1, 17)]  # in time order
    assert [r["date"] for r in rows] == [f"2026-10-{i:02d}" for i in range(1, 17)]
    truth = [
        sum(e["kind"] == "cramp" for e in json.loads((nights / f"night{i:02d}.truth.json").read_text())["events"])
        for i in range(1, 17)
    ]
    assert truth == BEFORE + AFTER
    found = [int(r["cramps"]) for r in rows]
    # the detector's counts: on these short nights it misses a cramp now and then (a 10-s one at its very
    # minimum, or one in the first minutes while the resting level is still being learnt)
    assert all(abs(f - t) <= 1 for f, t in zip(found, truth, strict=True))
    assert sum(abs(f - t) for f, t in zip(found, truth, strict=True)) <= 3
    assert all(r["tags"] == ("magnesium" if i >= 8 else "") for i, r in enumerate(rows))
    rolling = [float(r["cramps_rolling_7"]) for r in rows]
    assert rolling[-1] < 0.65 * rolling[7]  # the 7-night mean falls by about half
    # the comparison: about half as many, beyond chance, and said in plain words
    assert "With magnesium" in run.stdout and "Too few nights" not in run.stdout
    page = (nights / "trend.html").read_text()
    ratio = float(page.split('data-json="rate_ratio">')[1].split("<")[0])
    assert 0.3 < ratio < 0.7
    lo, hi = (float(x) for x in page.split("95 % confidence interval ")[1].split(";")[0].split(" to "))
    assert lo < ratio < hi < 1.0
    p = float(page.split("permutation test p = ")[1].split(")")[0])
    assert p < 0.05
    assert "The whole interval lies below 1" in page and "cannot say that the change caused it" in page


def test_too_few_nights_get_a_plain_warning(nights: Path) -> None:
    from nightcramp.trend import compare

    rows = [{"file": f"n{i}", "date": None, "cramps": c, "tags": "magnesium" if i >= 3 else "", "error": None}
            for i, c in enumerate([4, 3, 5, 2, 1])]  # fmt: skip
    c = compare(rows, "magnesium")
    assert c["nights_before"] == 3 and c["nights_after"] == 2 and "Too few nights to tell" in c["warning"]
    assert "No night is tagged" in compare(rows, "stretching")["warning"]


@pytest.mark.filterwarnings("ignore")  # the cluster's own start-up and shutdown warnings are not ours
def test_a_dask_cluster_gives_the_same_table(nights: Path, tmp_path: Path) -> None:
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        run = cramp("trend", str(nights), "--scheduler", cluster.scheduler_address, "--csv", str(tmp_path / "d.csv"),
                    "--html", str(tmp_path / "d.html"))  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "on the cluster at tcp://" in run.stderr
    local = cramp(
        "trend", str(nights), "--workers", "2", "--csv", str(tmp_path / "l.csv"), "--html", str(tmp_path / "l.html")
    )
    assert local.returncode == 0, local.stderr
    assert read_rows(tmp_path / "d.csv") == read_rows(tmp_path / "l.csv")


def test_an_unreachable_scheduler_is_one_sentence(nights: Path) -> None:
    run = cramp("trend", str(nights), "--scheduler", "tcp://127.0.0.1:9")
    assert run.returncode != 0 and "Traceback" not in run.stderr
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in run.stderr


def test_reviewed_nights_count_their_reviewed_cramps(nights: Path, tmp_path: Path) -> None:
    import shutil

    from nightcramp.trend import night_row, render_trend

    rec = tmp_path / "night01.ncr"
    shutil.copy(nights / "night01.ncr", rec)
    plain = night_row(str(rec))
    assert plain["reviewed"] is False and plain["cramps"] == plain["detected"] == BEFORE[0]
    events = json.loads(cramp("analyze", str(rec), "--json", str(tmp_path / "a.json")).stdout and
                        (tmp_path / "a.json").read_text())["events"]  # fmt: skip
    first = next(e for e in events if e["kind"] == "cramp")
    side = Sidecar.load(rec)
    side.set_review(first, "rejected")
    side.add_cramp(10.0, 40.0, "left")
    side.add_cramp(60.0, 90.0, "right")
    row = night_row(str(rec))
    assert row["reviewed"] is True and row["detected"] == BEFORE[0]
    assert row["cramps"] == BEFORE[0] - 1 + 2
    assert (row["confirmed"], row["rejected"], row["added"]) == (0, 1, 2)
    page = render_trend([row], None)
    assert "The detector against your reviews (1 night)" in page and 'data-json="confirmed">0<' in page
    assert "added 2 it missed" in page
