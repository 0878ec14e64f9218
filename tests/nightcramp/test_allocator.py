"""The allocator setting of the cramp process: freed mid-size blocks are reused, not faulted in afresh."""

from __future__ import annotations

import json
import platform
import subprocess
import sys

import pytest

_CHILD = """
import json, resource, sys, threading
import numpy as np
from nightcramp.allocator import keep_freed_memory
tuned = keep_freed_memory() if sys.argv[1] == "tuned" else None
def work():  # like an hour of analysis: several 2.4-MB temporaries held together, then freed, ten times
    for _ in range(10):
        held = [np.ones(300_000) for _ in range(10)]
        del held
faults = {}
for where in ("thread", "main"):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    if where == "thread":
        t = threading.Thread(target=work)
        t.start()
        t.join()
    else:
        work()
    faults[where] = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(json.dumps({"tuned": tuned, "faults": faults}))
"""


def _faults(mode: str) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-c", _CHILD, mode], capture_output=True, text=True, check=True)
    result: dict[str, object] = json.loads(out.stdout)
    return result


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the C library is not glibc")
def test_freed_blocks_are_reused_in_every_thread() -> None:
    default, tuned = _faults("default"), _faults("tuned")
    assert tuned["tuned"] is True
    pages = 10 * 10 * 300_000 * 8 // 4096  # every temporary faulted in afresh
    for where in ("thread", "main"):
        d, t = default["faults"][where], tuned["faults"][where]  # type: ignore[index]
        assert d > 0.8 * pages  # glibc's default gives the memory back each time
        assert t < 0.2 * pages  # kept: only the first round faults
