"""Array layouts whose elements are named ``x.lane3`` in netlists, never ``x[3]``.

Amaranth 0.5 gives every element of a :class:`~amaranth.lib.data.ArrayLayout` signal its own
debug wire, named ``x[3]`` for element 3 of ``x``, beside the wire ``x`` itself. Yosys names
bit 3 of ``x`` ``x[3]`` as well when it hands the design to ABC9 and back: in yosys 0.70
(``abc_ops_reintegrate``) the two names meet, wires of different widths are joined and yosys
stops with ``Assert 'GetSize(conn.first) == GetSize(conn.second)' failed`` in
``kernel/rtlil.cc`` (under ``yosys -q`` nothing is printed: exit status 1, the message is
only in the log). Which names ABC9 picks depends on the whole netlist, so whether a
configuration meets it moves with unrelated changes: the 784-128-10 ULX3S top crashed at 32
lanes (dense) and built at 128 until a host-link change swapped the two. The colliding names
seen were a LIF core's ``v_read__data`` / ``v_read__data[4]`` (membrane read data) and
``currents__payload[6]``; every crash seen had a layer with a single row of neurons (lanes >=
neurons), whose one-word memories become flip-flops with the array-shaped wire on their
outputs. ``-nolutram`` or ``-dff`` only change which names ABC9 sees and are no cure (issue 9).

:class:`NamedArrayLayout` is an ``ArrayLayout`` in every respect (same fields, equal to the
plain layout, indexed the same way) except its :meth:`format`, which describes the elements
as named fields (``x.lane3``) so no netlist name ends in ``[index]``. Every array-shaped
signal the generators make uses it.
"""

from amaranth import Format, Shape, Value
from amaranth.hdl import ShapeCastable
from amaranth.lib import data

__all__ = ["NamedArrayLayout"]


class NamedArrayLayout(data.ArrayLayout):
    """``ArrayLayout(elem_shape, length)`` whose element ``i`` is shown as ``<prefix><i>``.

    Parameters
    ----------
    elem_shape : shape-castable
    length : int
    prefix : str
        The name of an element before its index (``"lane"``, ``"layer"``, ``"class"``).
    """

    def __init__(self, elem_shape, length, *, prefix):
        if not isinstance(prefix, str) or not prefix.isidentifier():
            raise ValueError(f"prefix = {prefix!r} is not a valid name; use an identifier "
                             f"such as 'lane'")
        super().__init__(elem_shape, length)
        self.prefix = prefix

    def format(self, value, format_spec):
        if format_spec != "":
            raise ValueError(f"Format specifier {format_spec!r} is not supported for layouts")
        value = Value.cast(value)
        elem_shape = self.elem_shape
        width = Shape.cast(elem_shape).width
        fields = {}
        for index in range(self.length):
            element = value[width * index:width * (index + 1)]
            if isinstance(elem_shape, ShapeCastable):
                fields[f"{self.prefix}{index}"] = elem_shape.format(elem_shape(element), "")
            else:
                if Shape.cast(elem_shape).signed:
                    element = element.as_signed()
                fields[f"{self.prefix}{index}"] = Format("{}", element)
        return Format.Struct(value, fields)

    def __repr__(self):
        return (f"NamedArrayLayout({self.elem_shape!r}, {self.length}, "
                f"prefix={self.prefix!r})")
