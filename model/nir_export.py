"""spikefab networks out to NIR, and snnTorch models in through NIR.

:func:`to_nir` writes a :class:`~spikefab.model.Network` as an ``nir.NIRGraph`` (the mapping
is in :mod:`spikefab.model.nir_io`'s docstring, which reads such graphs back bit for bit);
:func:`snntorch_to_nir` exports an snnTorch model with snnTorch's own exporter and repairs
what it loses; :func:`from_snntorch` imports one; :func:`snntorch_agreement` measures how far
the golden model agrees with snnTorch's forward pass. ``nir``, ``torch`` and ``snntorch`` are
imported inside the functions (extras ``nir`` and ``train``).
"""

import math
import os

import numpy as np

from .checks import check_instance, need
from .network import Network

__all__ = ["DT", "NIR_FORMAT", "from_snntorch", "snntorch_agreement", "snntorch_to_nir",
           "to_nir"]

#: NIR time step used when neither the caller nor the graph's metadata give one (snnTorch's).
DT = 1e-4
#: Graph metadata tag of files written by :func:`to_nir`.
NIR_FORMAT = "spikefab-nir-1"


def _exact_float(array):
    array = np.asarray(array, dtype=np.float64)
    return array.astype(np.float32) if np.max(np.abs(array), initial=0) < 2 ** 24 else array


def to_nir(network, path=None, *, dt=DT):
    """Write ``network`` as an ``nir.NIRGraph`` (module docstring for the mapping); also to
    ``path`` (a ``.nir`` file) when given. Returns the graph."""
    nir = need("nir", "writing NIR graphs", extra="nir")
    if not isinstance(network, Network):
        raise TypeError(f"network must be a spikefab Network, not {type(network).__name__}")
    if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not math.isfinite(dt) \
            or dt <= 0:
        raise ValueError(f"dt = {dt!r} is out of range; allowed range is a finite number > 0")
    first_map = getattr(network.layers[0], "in_map", None)
    nodes = {"input": nir.Input(input_type={"input": np.array(
        first_map if first_map is not None else [network.n_inputs])})}
    edges, previous, previous_map = [], "input", first_map
    for index, layer in enumerate(network.layers):
        n = layer.neurons
        kernel = getattr(layer, "kernel", None)
        shape = (n,)
        if kernel is not None:                 # a ConvLayer: [SumPool2d →] Conv2d
            geometry = layer.geometry
            if layer.pool is not None:
                pool = layer.pool
                nodes[f"pool{index}"] = nir.SumPool2d(
                    kernel_size=np.array(pool.kernel), stride=np.array(pool.stride),
                    padding=np.array(pool.padding))
                nodes[f"pool{index}"].input_type = {"input": np.array(pool.in_shape)}
                nodes[f"pool{index}"].output_type = {"output": np.array(pool.out_shape)}
                edges.append((previous, f"pool{index}"))
                previous = f"pool{index}"
            synapse = nir.Conv2d(
                input_shape=(geometry.height, geometry.width), weight=_exact_float(kernel),
                stride=geometry.stride, padding=geometry.padding, dilation=(1, 1), groups=1,
                bias=_exact_float(layer.channel_bias))
            # nir 1.0 infers the output with kh on both axes; write the true one
            synapse.output_type = {"output": np.array(geometry.out_shape)}
            shape = geometry.out_shape
        else:
            if previous_map is not None:       # a map read by a fully connected layer
                nodes[f"flatten{index}"] = nir.Flatten(
                    input_type={"input": np.array(previous_map)}, start_dim=0, end_dim=-1)
                edges.append((previous, f"flatten{index}"))
                previous = f"flatten{index}"
            weight = _exact_float(layer.weights)
            if np.any(layer.bias):
                synapse = nir.Affine(weight=weight, bias=_exact_float(layer.bias))
            else:
                synapse = nir.Linear(weight=weight)
        metadata = {"spikefab_reset": layer.reset, "spikefab_timing": layer.timing,
                    "spikefab_leak": layer.leak, "spikefab_w_bits": layer.w_bits,
                    "spikefab_v_bits": layer.v_bits}
        if layer.leak == "shift":
            metadata["spikefab_k"] = layer.k
        if layer.leak == "mul":
            metadata.update(spikefab_m=layer.m, spikefab_f=layer.f)
        threshold = np.full(shape, float(layer.theta),
                            dtype=np.float32 if layer.theta < 2 ** 24 else np.float64)
        if layer.leak == "none":
            neuron = nir.IF(r=np.ones(shape, dtype=np.float32), v_threshold=threshold,
                            v_reset=np.zeros_like(threshold), metadata=metadata)
        else:
            tau = dt / (1.0 - layer.beta) if layer.beta < 1 else math.inf
            neuron = nir.LIF(tau=np.full(shape, tau), r=np.full(shape, tau / dt),
                             v_leak=np.zeros(shape), v_threshold=threshold,
                             v_reset=np.zeros_like(threshold), metadata=metadata)
        synapse_name = f"conv{index}" if kernel is not None else f"fc{index}"
        nodes[synapse_name], nodes[f"lif{index}"] = synapse, neuron
        edges += [(previous, synapse_name), (synapse_name, f"lif{index}")]
        previous = f"lif{index}"
        previous_map = getattr(layer, "out_map", None)
    if previous_map is not None:
        nodes["flatten_output"] = nir.Flatten(
            input_type={"input": np.array(previous_map)}, start_dim=0, end_dim=-1)
        edges.append((previous, "flatten_output"))
        previous = "flatten_output"
    nodes["output"] = nir.Output(output_type={"output": np.array([network.n_outputs])})
    edges.append((previous, "output"))
    graph = nir.NIRGraph(nodes=nodes, edges=edges,
                         metadata={"spikefab_format": NIR_FORMAT, "dt": float(dt),
                                   "spikefab_discretization": "euler",
                                   "spikefab_scale": 1.0})
    if path is not None:
        nir.write(os.fspath(path), graph)
    return graph


# --- snnTorch --------------------------------------------------------------------------------

def snntorch_to_nir(module, n_inputs, path=None):
    """An snnTorch model (``nn.Linear`` + ``snn.Leaky`` layers, optionally ``nn.Flatten``;
    ``n_inputs`` is the input size, or the shape of one input such as ``(1, 28, 28)``) as
    an ``nir.NIRGraph`` written by snnTorch's own exporter (``snntorch.export_nir``), with
    two repairs: scalar ``beta``/``threshold`` are broadcast to the layer's size (snnTorch
    1.0.0 writes them as scalars, which NIR's type check refuses), and each LIF node's
    metadata keeps the reset mechanism and ``reset_delay`` (snnTorch writes ``v_reset = 0``
    for both of its mechanisms). Written to ``path`` when given."""
    torch = need("torch", "importing snnTorch models", extra="train")
    snn = need("snntorch", "importing snnTorch models", extra="train")
    nirtorch = need("nirtorch", "importing snnTorch models", extra="train")
    nir = need("nir", "importing snnTorch models", extra="nir")
    export = need("snntorch.export_nir", "importing snnTorch models", extra="train")
    from .checks import check_int
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, not {type(module).__name__}")
    shape = tuple(n_inputs) if isinstance(n_inputs, (tuple, list)) else (n_inputs,)
    shape = tuple(check_int("n_inputs", n, 1, 1 << 20) for n in shape)
    allowed = (torch.nn.Linear, snn.Leaky, torch.nn.Flatten, torch.nn.Identity,
               torch.nn.Sequential, torch.nn.Dropout)
    for name, sub in module.named_modules():
        if sub is module and not isinstance(sub, torch.nn.Sequential):
            continue
        if not isinstance(sub, allowed) or type(sub).__name__ in ("RLeaky",):
            raise ValueError(f"snnTorch module {name or '<top>'!r} of type "
                             f"{type(sub).__name__} is not supported; spikefab reads "
                             f"nn.Linear + snn.Leaky layers (and nn.Flatten)")
        if isinstance(sub, snn.Leaky):
            if sub.reset_mechanism not in ("subtract", "zero"):
                raise ValueError(f"snnTorch Leaky {name!r}: reset_mechanism "
                                 f"{sub.reset_mechanism!r} is not supported; use 'subtract' "
                                 f"or 'zero'")
            if float(getattr(sub, "graded_spikes_factor", 1.0)) != 1.0:
                raise ValueError(f"snnTorch Leaky {name!r}: graded_spikes_factor must be 1 "
                                 f"(binary spikes)")
            if getattr(sub, "inhibition", False):
                raise ValueError(f"snnTorch Leaky {name!r}: inhibition is not supported")
            if getattr(sub, "state_quant", False):
                raise ValueError(f"snnTorch Leaky {name!r}: state_quant is not supported; "
                                 f"quantize through spikefab's scale rule instead")
    modules = dict(module.named_modules())
    import warnings
    with np.errstate(divide="ignore", invalid="ignore"), torch.no_grad(), \
            warnings.catch_warnings():
        # nirtorch 2 deprecates the tracer that snnTorch 1.0's exporter is written for
        warnings.simplefilter("ignore", DeprecationWarning)
        graph = nirtorch.extract_nir_graph(
            module, export._extract_snntorch_module, torch.zeros(shape),
            model_name="snntorch", ignore_submodules_of=[snn.RLeaky, snn.RSynaptic])
    sizes = {}
    for source, target in graph.edges:
        node = graph.nodes[source]
        if isinstance(node, (nir.Affine, nir.Linear)):
            sizes[target] = np.asarray(node.weight).shape[0]
    for name, node in list(graph.nodes.items()):
        if not isinstance(node, nir.LIF):
            continue
        n = sizes.get(name)
        sub = modules.get(name)
        if n is None or sub is None:
            continue  # import_nir names the problem (a LIF without a Linear before it)
        params = {key: np.broadcast_to(np.asarray(getattr(node, key), dtype=np.float64),
                                       (n,)).copy()
                  for key in ("tau", "r", "v_leak", "v_threshold", "v_reset")}
        metadata = dict(node.metadata or {})
        metadata.update(spikefab_reset=sub.reset_mechanism,
                        spikefab_timing="delayed" if sub.reset_delay else "immediate",
                        snntorch_module=type(sub).__name__)
        graph.nodes[name] = nir.LIF(**params, metadata=metadata)
    # No nir type inference here: nirtorch keeps the batch dimension of the sample in the
    # Input and Output types ([1, 28, 28], [1, 10]), which NIR's checker refuses; import_nir
    # checks every shape along the chain itself.
    if path is not None:
        nir.write(os.fspath(path), graph)
    return graph


def from_snntorch(module, n_inputs, **options):
    """An snnTorch model as a :class:`Network`, through NIR (:func:`snntorch_to_nir` then
    :func:`import_nir`; ``options`` as :func:`import_nir`). snnTorch's ``reset_delay=True``
    (its default) is spikefab's ``timing="delayed"``; ``reset_delay=False`` is
    ``"immediate"`` (bit for bit with ``zero`` reset; with ``subtract`` snnTorch subtracts the
    threshold once more when the membrane still exceeds it after the reset, docs/design.md §2)."""
    from .nir_io import import_nir
    return import_nir(snntorch_to_nir(module, n_inputs), **options).network


def snntorch_agreement(module, network, trains, *, chunk=256):
    """How far ``network`` (spikefab's golden model) agrees with snnTorch's own forward
    pass of ``module`` on the input spike ``trains`` ``[B, T, N0]``: a dict with
    ``spikes`` (per Leaky layer, the fraction of (sample, step, neuron) spikes that agree),
    ``classes`` (the fraction of samples with the same arg-max of output spike counts, lowest
    index on ties, as the readout decides) and ``samples``. Exact models give 1.0
    everywhere; for float models this is the agreement rate after quantization."""
    torch = need("torch", "comparing with snnTorch", extra="train")
    snn = need("snntorch", "comparing with snnTorch", extra="train")
    utils = need("snntorch.utils", "comparing with snnTorch", extra="train")
    from .simulate import check_spike_trains, simulate
    check_instance("network", network, Network)
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"module must be a torch.nn.Module (an snnTorch model), not "
                        f"{type(module).__name__}")
    trains, _ = check_spike_trains(trains, network.n_inputs)
    leaky = [sub for sub in module.modules() if isinstance(sub, snn.Leaky)]
    if len(leaky) != len(network):
        raise ValueError(f"module has {len(leaky)} Leaky layers and network {len(network)} "
                         f"layers; they must describe the same model")
    agree = np.zeros(len(network))
    same_class = 0
    for start in range(0, len(trains), chunk):
        part = trains[start:start + chunk]
        golden = simulate(network, part)
        utils.reset(module)
        records = [[] for _ in leaky]
        hooks = [sub.register_forward_hook(
            lambda _m, _i, output, index=index: records[index].append(
                (output[0] if isinstance(output, tuple) else output).detach().numpy().copy()))
            for index, sub in enumerate(leaky)]
        try:
            with torch.no_grad():
                for step in torch.as_tensor(part.transpose(1, 0, 2), dtype=torch.float32):
                    module(step)
        finally:
            for hook in hooks:
                hook.remove()
        for index, (got, want) in enumerate(zip(records, golden.spikes)):
            agree[index] += float((np.stack(got).transpose(1, 0, 2) == want).sum())
        counts = np.stack(records[-1]).sum(axis=0)
        same_class += int((np.argmax(counts, axis=1) == golden.predicted).sum())
    sizes = [len(trains) * trains.shape[1] * layer.neurons for layer in network]
    return {"spikes": [float(a / s) for a, s in zip(agree, sizes)],
            "classes": same_class / len(trains), "samples": len(trains)}
