"""The points of a sweep (:mod:`spikefab.dse.spec`): :class:`Point` (a network variant, its
run and its hardware) and :class:`LayerShape` (a layer as :meth:`Spec.points
<spikefab.dse.spec.Spec.points>` sees it). Both are also importable from
:mod:`spikefab.dse.spec`.
"""

import numbers
from dataclasses import dataclass

from spikefab.model.cycles import QUEUE_DEPTH_RANGE, HardwareConfig, LayerConfig
from spikefab.model.memory import FORMATS
from spikefab.model.network import W_BITS_RANGE, Network

from .spec_base import _POINT_KEYS, CONV_MODES, ENCODERS, LANES_RANGE, STEPS_RANGE, _Check

__all__ = ["LayerShape", "Point"]


class LayerShape(tuple):
    """A layer as :meth:`Spec.points` sees it: ``(neurons, channels)``, ``channels`` the output
    channels ``C_out`` of a convolutional layer or ``None`` for a fully connected one."""

    def __new__(cls, neurons, channels=None):
        return super().__new__(cls, (neurons, channels))

    @property
    def neurons(self):
        return self[0]

    @property
    def channels(self):
        return self[1]

    @classmethod
    def of(cls, layer):
        """The shape of a :class:`~spikefab.model.network.Layer` (a
        :class:`~spikefab.model.conv.ConvLayer` gives its output channels)."""
        from spikefab.model.conv import ConvLayer
        channels = layer.geometry.out_channels if isinstance(layer, ConvLayer) else None
        return cls(int(layer.neurons), channels)


def _layer_shapes(layers):
    """``layers`` (a Network, neuron counts or ``(neurons, channels)`` pairs) as a tuple of
    :class:`LayerShape`."""
    if isinstance(layers, Network):
        return tuple(LayerShape.of(layer) for layer in layers)
    if isinstance(layers, (str, bytes)) or not hasattr(layers, "__iter__"):
        raise TypeError(f"layer_sizes must be a sequence of neuron counts, not "
                        f"{type(layers).__name__}")
    items = tuple(layers)

    def count(n):
        return isinstance(n, numbers.Integral) and not isinstance(n, bool) and n >= 1

    shapes = []
    for item in items:
        if isinstance(item, tuple) and len(item) == 2 and count(item[0]) and (
                item[1] is None or (count(item[1]) and item[1] <= item[0])):
            shapes.append(LayerShape(int(item[0]), None if item[1] is None else int(item[1])))
        elif count(item):
            shapes.append(LayerShape(int(item)))
        else:
            shapes = None
            break
    if not items or shapes is None:
        raise ValueError(f"layer_sizes must be a non-empty sequence of integers >= 1 (or "
                         f"(neurons, channels) pairs), not {layers!r}")
    return tuple(shapes)


# --------------------------------------------------------------------------------------------
# Points
# --------------------------------------------------------------------------------------------

def _point_values(check, data, prefix):
    """The checked fields of a point from a mapping holding every key of a point."""
    def at(key):
        return f"{prefix}{key}"

    lanes = data["lanes"]
    if not isinstance(lanes, (list, tuple)) or not lanes:
        check.fail(f"{at('lanes')} = {lanes!r} must be a non-empty list of PE counts, one per "
                   f"layer")
    w_bits = data["w_bits"]
    return {
        "w_bits": None if w_bits is None else check.integer(at("w_bits"), w_bits,
                                                            *W_BITS_RANGE),
        "density": check.number(at("density"), data["density"], 0, 1),
        "steps": check.integer(at("steps"), data["steps"], *STEPS_RANGE),
        "encoder": check.choice(at("encoder"), data["encoder"], ENCODERS),
        "format": check.choice(at("format"), data["format"], FORMATS),
        "queue_depth": check.integer(at("queue_depth"), data["queue_depth"],
                                     *QUEUE_DEPTH_RANGE),
        "lanes": tuple(check.integer(f"{at('lanes')}[{index}]", lane, *LANES_RANGE)
                       for index, lane in enumerate(lanes)),
        "conv": None if data.get("conv") is None else check.choice(at("conv"), data["conv"],
                                                                   CONV_MODES),
    }


@dataclass(frozen=True, order=True)
class Point:
    """One point of a sweep: a network variant, its run and its hardware. Hashable; checked
    when made (a bad value raises :class:`SpecError` naming ``point.<key>``).

    Attributes
    ----------
    w_bits : int or None
        Weight bits; ``None`` for a network file (its own).
    density : float
        Synapse density in ``(0, 1]``.
    steps : int
        Timesteps ``T``.
    encoder : str
        Input encoder, in :data:`ENCODERS`.
    format : str
        Weight format, in :data:`spikefab.model.FORMATS`.
    queue_depth : int
        Event-queue depth of every layer.
    lanes : tuple of int
        PEs of each layer (a convolutional layer on the convolution core: lanes across its
        output channels).
    conv : str or None
        Where the convolutional layers run, in :data:`CONV_MODES`; ``None`` for a network
        without convolutional layers. ``format`` is the weight format of the other layers.
    """

    w_bits: int
    density: float
    steps: int
    encoder: str
    format: str
    queue_depth: int
    lanes: tuple
    conv: str = None

    def __post_init__(self):
        values = _point_values(_Check("point"), self.__dict__, "point.")
        for key, value in values.items():
            object.__setattr__(self, key, value)

    @classmethod
    def from_dict(cls, data, *, source="point"):
        """The point of a :meth:`to_dict` mapping.

        Parameters
        ----------
        data : Mapping
            Every key of a point (``w_bits``, ``density``, ``steps``, ``encoder``,
            ``format``, ``queue_depth``, ``lanes``) and no other but ``conv`` (left out:
            ``None``).
        source : str
            Named by error messages.

        Returns
        -------
        Point

        Raises
        ------
        SpecError
            A missing, unknown or invalid key.
        """
        check = _Check(source)
        data = check.mapping("point", data, _POINT_KEYS)
        missing = [key for key in _POINT_KEYS if key not in data and key != "conv"]
        if missing:
            check.fail(f"point misses key {missing[0]!r}; a point has keys "
                       f"{', '.join(_POINT_KEYS)}")
        return cls(**_point_values(check, data, "point."))

    def to_dict(self):
        """The point as a JSON-ready dict (``lanes`` a list; ``conv`` only when not
        ``None``)."""
        out = {"w_bits": self.w_bits, "density": self.density, "steps": self.steps,
               "encoder": self.encoder, "format": self.format,
               "queue_depth": self.queue_depth, "lanes": list(self.lanes)}
        if self.conv is not None:
            out["conv"] = self.conv
        return out

    @property
    def label(self):
        """str: a short name, e.g. ``"w4 d0.5 T32 rate csc q16 P16-10"`` (without the
        ``w`` part when ``w_bits`` is ``None``; with ``conv`` after the encoder when it is not
        ``None``: ``"d1 T16 rate kernel csc q16 P4-10"``)."""
        bits = "" if self.w_bits is None else f"w{self.w_bits} "
        conv = "" if self.conv is None else f"{self.conv} "
        return (f"{bits}d{self.density:g} T{self.steps} {self.encoder} {conv}{self.format} "
                f"q{self.queue_depth} P{'-'.join(map(str, self.lanes))}")

    def network_key(self):
        """The fields that define the network variant: ``(w_bits, density)``."""
        return (self.w_bits, self.density)

    def golden_key(self):
        """The fields that define the golden model's run: ``(w_bits, density, steps,
        encoder)``."""
        return (self.w_bits, self.density, self.steps, self.encoder)

    def hardware_key(self):
        """The fields that define the hardware: ``(format, queue_depth, lanes)``, and
        ``conv`` first when it is not ``None``."""
        key = (self.format, self.queue_depth, self.lanes)
        return key if self.conv is None else (self.conv,) + key

    def hardware_config(self, network=None):
        """The :class:`~spikefab.model.HardwareConfig` of this point (one
        :class:`~spikefab.model.LayerConfig` per layer, the default timing). Without
        ``network`` every layer is fully connected in :attr:`format`; with it, its
        convolutional layers run as :attr:`conv` says (``kernel``: on the convolution core,
        format ``kernel``) through :meth:`HardwareConfig.uniform
        <spikefab.model.HardwareConfig.uniform>`."""
        if network is None:
            return HardwareConfig(tuple(LayerConfig(lanes, self.format, self.queue_depth)
                                        for lanes in self.lanes))
        return HardwareConfig.uniform(network, lanes=list(self.lanes), format=self.format,
                                      queue_depth=self.queue_depth,
                                      conv=self.conv or "kernel")
