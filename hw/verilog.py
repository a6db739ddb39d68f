"""Verilog generation for spikefab components.

:func:`convert` is ``amaranth.back.verilog.convert`` with the component's ports taken from
its signature, leaving out members that are constants (the ``ready`` of an
``always_ready`` stream, the ``valid`` of an ``always_valid`` one), which Amaranth 0.5
cannot make into ports, and zero-width members. Port names follow Amaranth's flattening (``words__payload``,
``columns__ready``), plus ``clk`` and an active-high synchronous ``rst``.
"""

from amaranth import Signal, Value
from amaranth.back import verilog

__all__ = ["convert", "ports"]


def ports(component):
    """The Signals of ``component``'s signature members, in signature order (a structured
    member such as a stream payload is its underlying Signal). Zero-width members (the row
    of a one-row sweep) carry nothing and are left out."""
    signals = []
    for _path, _member, value in component.signature.flatten(component):
        value = Value.cast(value)
        if isinstance(value, Signal) and len(value) > 0:
            signals.append(value)
    return signals


def convert(component, name, *, header=None):
    """Return the Verilog text of ``component`` as module ``name``; ``header`` (a string)
    is prepended as ``//`` comment lines."""
    text = verilog.convert(component, name=name, ports=ports(component),
                           emit_src=False)
    if header:
        comment = "".join(f"// {line}\n" if line else "//\n" for line in header.splitlines())
        text = comment + text
    return text
