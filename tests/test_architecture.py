"""Import hygiene at run time: the pure core pulls in no device, GUI or DataFrame code."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN_IN_CORE = ("bleak", "PySide6", "pyqtgraph", "pandas", "firmware_bridge", "nightcramp", "asyncio")


def loaded_after(module: str) -> set[str]:
    code = f"import sys, {module}, detector.night, detector.simulate; print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return {name.split(".")[0] for name in out.split()}


def test_detector_imports_nothing_but_numpy_and_scipy() -> None:
    assert not loaded_after("detector") & set(FORBIDDEN_IN_CORE)


def test_bridge_does_not_import_the_gui() -> None:
    code = "import sys, firmware_bridge.sources, firmware_bridge.journal; print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert not {n.split(".")[0] for n in out.split()} & {"PySide6", "pyqtgraph", "nightcramp"}
