"""Write the Verilog of the accelerator and of each hardware block for one configuration
(``spikefab verilog`` / ``make verilog``, :mod:`spikefab.cli.verilog`, is its command line).

:func:`write_verilog` builds the reference network (:func:`spikefab.model.reference_network`,
64-128-10 by default) with the neuron options applied to every layer and writes
``accelerator.v`` (the whole network) and the four block files of one layer (``layer``, the
first by default). Every file starts with a header comment recording the configuration and
the command that made it. A configuration the generator refuses raises ``ValueError`` /
``TypeError`` naming the parameter (:class:`LayerOutOfRange` for a layer the network does not
have); a folder that cannot be written raises ``OSError``.
"""

from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from spikefab.model import HardwareConfig, compile_weights, reference_network

from .accelerator import Accelerator
from .event_queue import EventQueue
from .events import addr_bits_for
from .lif_core import LIFCore
from .pe_array import PEArray, accumulator_bits
from .verilog import convert
from .weight_memory import WeightMemory

__all__ = ["GeneratedVerilog", "LayerOutOfRange", "generate_blocks", "write_verilog"]


class LayerOutOfRange(ValueError):
    """The layer whose blocks were asked for is not a layer of the network."""

    def __init__(self, layer, layers):
        self.layer, self.layers = layer, layers
        super().__init__(f"layer {layer} is out of range; allowed range is [0, {layers - 1}]")


def _network(sizes, *, density, w_bits, seed, v_bits, leak, k, m, f, reset, timing, layer):
    """The reference network of ``sizes`` with the neuron options applied to every layer;
    :class:`LayerOutOfRange` unless ``layer`` is one of its layers."""
    from spikefab.model import Network
    network = reference_network(tuple(sizes), density=density, w_bits=w_bits, seed=seed)
    if not 0 <= layer < len(network):
        raise LayerOutOfRange(layer, len(network))
    neuron = {"leak": leak, "reset": reset, "timing": timing}
    if leak == "shift":
        neuron["k"] = k
    elif leak == "mul":
        neuron.update(m=m, f=f)
    return Network([each.replace(v_bits=v_bits, **neuron) for each in network])


def generate_blocks(layer, *, lanes, fmt, queue_depth, out, header):
    """Write ``event_queue.v``, ``weight_memory.v``, ``pe_array.v`` and ``lif_core.v`` for
    ``layer`` into ``out``; return the paths."""
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    image = compile_weights(layer, lanes, fmt)
    acc_bits = accumulator_bits(layer.w_bits, layer.fan_in)
    blocks = {
        "event_queue": EventQueue(addr_bits_for(layer.fan_in), queue_depth),
        "weight_memory": WeightMemory(image),
        "pe_array": PEArray(lanes=lanes, rows=image.rows, w_bits=layer.w_bits,
                            acc_bits=acc_bits),
        "lif_core": LIFCore(layer, lanes=lanes, acc_bits=acc_bits),
    }
    paths = []
    for name, block in blocks.items():
        path = out / f"{name}.v"
        path.write_text(convert(block, name, header=header))
        paths.append(path)
    return paths


@dataclass(frozen=True)
class GeneratedVerilog:
    """What :func:`write_verilog` wrote: the one-line description of the configuration (also
    in every file's header) and the files, the blocks first and ``accelerator.v`` last."""
    configuration: str
    paths: list


def write_verilog(out, *, sizes=(64, 128, 10), layer=0, density=0.5, seed=1, lanes=4,
                  fmt="csc", w_bits=4, v_bits=16, queue_depth=16, leak="shift", k=3, m=7, f=3,
                  reset="subtract", timing="immediate", command="spikefab verilog"):
    """Write ``accelerator.v`` for the reference network of ``sizes`` (``seed``, ``density``,
    ``w_bits``; every layer with ``v_bits`` and the neuron options ``leak`` / ``k`` / ``m`` /
    ``f``, ``reset``, ``timing``) and the four block files of its layer ``layer`` into
    ``out``, for ``lanes`` PEs per layer, weight format ``fmt`` and ``queue_depth``-entry event
    queues. Each file's header records the configuration and ``command`` (the command line
    that made it). Returns a :class:`GeneratedVerilog`.

    Raises :class:`LayerOutOfRange` when the network has no layer ``layer``,
    ``ValueError`` / ``TypeError`` when the generator refuses the configuration, and
    ``OSError`` when ``out`` cannot be written.
    """
    network = _network(sizes, density=density, w_bits=w_bits, seed=seed, v_bits=v_bits,
                       leak=leak, k=k, m=m, f=f, reset=reset, timing=timing, layer=layer)
    block_layer = network[layer]
    leak_text = {"none": "none", "shift": f"shift k = {block_layer.k}",
                 "mul": f"mul m = {block_layer.m}, f = {block_layer.f}"}[block_layer.leak]
    config = (f"the {'-'.join(map(str, sizes))} reference network (seed {seed}, "
              f"density {density}), blocks of layer {layer}: {block_layer.neurons} "
              f"neurons, fan-in {block_layer.fan_in}, w_bits {block_layer.w_bits}, v_bits "
              f"{block_layer.v_bits}, theta {block_layer.theta}, leak {leak_text}, reset "
              f"{block_layer.reset}, timing {block_layer.timing}; "
              f"P = {lanes}, format {fmt}, queue depth {queue_depth}")
    header = (f"spikefab {version('spikefab')} - generated Verilog\n"
              f"configuration: {config}\n"
              f"command: {command}")
    paths = generate_blocks(block_layer, lanes=lanes, fmt=fmt, queue_depth=queue_depth,
                            out=out, header=header)
    hardware = HardwareConfig.uniform(network, lanes=lanes, format=fmt,
                                      queue_depth=queue_depth)
    path = Path(out) / "accelerator.v"
    path.write_text(convert(Accelerator(network, hardware), "accelerator", header=header))
    paths.append(path)
    return GeneratedVerilog(config, paths)
