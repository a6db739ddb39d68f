"""``spikefab prog``: program the bitstream of ``spikefab synth`` (``OUT/BOARD/top.bin`` or
``top.bit``) into ``--board`` with openFPGALoader. The options are
:mod:`spikefab.cli.board_options`."""

from spikefab.cli import board_options
from spikefab.cli.args import fail

__all__ = ["add_arguments", "run"]


def add_arguments(parser):
    """``spikefab prog``'s options."""
    board_options.add_arguments(parser, "prog")


def run(args):
    """``spikefab prog``: program the bitstream of ``spikefab synth`` into ``--board``."""
    from spikefab.boards.program import ProgramError, program
    out = args.out / args.board
    bitstream = out / ("top.bin" if args.board == "icebreaker" else "top.bit")
    try:
        print(program(args.board, bitstream, flash=args.flash))
    except ProgramError as error:
        raise fail(error) from None
