"""The ``dfu-suffix`` stand-in the OrangeCrab build runs (``DFU_SUFFIX``, the script of
:func:`spikefab.boards.dfu.wrapper` calling :mod:`spikefab.cli.dfu_suffix`), run as the build
runs it. The suffix bytes themselves are checked in tests/boards/test_synth.py."""

import subprocess
import zlib

from spikefab.boards.dfu import dfu_suffix, wrapper


def test_the_wrapper_appends_the_suffix_once(tmp_path):
    script = wrapper(tmp_path)
    bitstream = tmp_path / "top.bit"
    bitstream.write_bytes(b"spikefab")
    done = subprocess.run([script, "-v", "1209", "-p", "5af0", "-a", str(bitstream)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    data = bitstream.read_bytes()
    assert data == dfu_suffix(b"spikefab", vendor=0x1209, product=0x5AF0)
    assert zlib.crc32(data) == 0xFFFFFFFF
    again = subprocess.run([script, "-v", "1209", "-p", "5af0", "-a", str(bitstream)],
                           capture_output=True, text=True)
    assert again.returncode == 1
    assert again.stderr.strip() == f"{bitstream} already has a DFU suffix"
    assert bitstream.read_bytes() == data
