"""The DFU file suffix the OrangeCrab's bootloader expects (``dfu-suffix`` of dfu-util, which is
not on PyPI), written in Python.

The OrangeCrab platform appends a DFU suffix to its bitstream with ``dfu-suffix``. When
neither ``DFU_SUFFIX`` is set nor ``dfu-suffix`` is on ``PATH``, the flow points
``DFU_SUFFIX`` at :func:`wrapper`, a small script written into the build folder that runs
the stand-in command :mod:`spikefab.cli.dfu_suffix` — the same 16-byte suffix (DFU 1.1
appendix B, the bytes dfu-util 0.11 writes).
"""

import shlex
import sys
import zlib
from pathlib import Path

__all__ = ["dfu_suffix", "has_dfu_suffix", "wrapper"]


def dfu_suffix(data, *, vendor, product, device=0xFFFF, bcd_dfu=0x0100):
    """Return ``data`` with a DFU 1.1 file suffix appended, as ``dfu-suffix -a`` writes it.

    The 16 bytes are ``bcdDevice, idProduct, idVendor, bcdDFU`` (little-endian 16-bit),
    ``b"UFD"``, the length 16, and the CRC-32 (reflected polynomial ``0xEDB88320``, start
    ``0xFFFFFFFF``, no final inversion) of everything before it. Hence ``zlib.crc32`` of the
    whole result is ``0xFFFFFFFF``.
    """
    for label, value in (("vendor", vendor), ("product", product), ("device", device),
                         ("bcd_dfu", bcd_dfu)):
        if not 0 <= value <= 0xFFFF:
            raise ValueError(f"{label} = {value!r} is out of range; allowed range is "
                             f"[0, 0xFFFF]")
    head = (bytes(data) + device.to_bytes(2, "little") + product.to_bytes(2, "little")
            + vendor.to_bytes(2, "little") + bcd_dfu.to_bytes(2, "little") + b"UFD" + bytes([16]))
    crc = zlib.crc32(head) ^ 0xFFFFFFFF
    return head + crc.to_bytes(4, "little")


def has_dfu_suffix(data):
    return (len(data) >= 16 and data[-8:-5] == b"UFD" and data[-5] == 16
            and zlib.crc32(data) == 0xFFFFFFFF)


def wrapper(build_dir):
    script = Path(build_dir) / "spikefab-dfu-suffix"
    script.write_text(
        "#!/bin/sh\n"
        "# dfu-suffix replacement written by spikefab.boards.synth (dfu-util is not on PyPI)\n"
        f"exec {shlex.quote(sys.executable)} -c "
        "'import sys; from spikefab.cli.dfu_suffix import main; main("
        "sys.argv[1:])' \"$@\"\n")
    script.chmod(0o755)
    return str(script.resolve())


