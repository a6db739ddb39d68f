"""``dfu-suffix -v VID -p PID [-d DID] -a FILE``: the stand-in for dfu-util's ``dfu-suffix``
(not on PyPI) that the OrangeCrab build runs through the script of
:func:`spikefab.boards.dfu.wrapper` (its ``DFU_SUFFIX``). Not a ``spikefab`` command: the
build calls it with the options the OrangeCrab platform passes; the suffix itself is
:func:`spikefab.boards.dfu.dfu_suffix`."""

import argparse
from pathlib import Path

from spikefab.boards.dfu import dfu_suffix, has_dfu_suffix

__all__ = ["main"]


def main(argv=None):
    """``dfu-suffix -v VID -p PID [-d DID] -a FILE`` (the options the OrangeCrab build uses):
    append the suffix to FILE; a FILE that already has one ends in ``SystemExit``."""
    parser = argparse.ArgumentParser(prog="dfu-suffix (spikefab)")
    parser.add_argument("-v", "--vid", type=lambda s: int(s, 16), required=True)
    parser.add_argument("-p", "--pid", type=lambda s: int(s, 16), required=True)
    parser.add_argument("-d", "--did", type=lambda s: int(s, 16), default=0xFFFF)
    parser.add_argument("-a", "--add", required=True, metavar="FILE")
    args = parser.parse_args(argv)
    path = Path(args.add)
    data = path.read_bytes()
    if has_dfu_suffix(data):
        raise SystemExit(f"{path} already has a DFU suffix")
    path.write_bytes(dfu_suffix(data, vendor=args.vid, product=args.pid, device=args.did))
