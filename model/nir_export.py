"""spikefab networks out to NIR, and snnTorch models in through NIR.

:func:`to_nir` writes a :class:`~spikefab.model.Network` as an ``nir.NIRGraph`` (the mapping
is in :mod:`spikefab.model.nir_io`'s docstring, which reads such graphs back bit for bit);
:func:`snntorch_to_nir` exports an snnTorch model (fully connected or convolutional) with
snnTorch's own exporter and repairs what it loses or breaks; :func:`from_snntorch` imports
one; :func:`snntorch_agreement` measures how far
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
        if getattr(layer, "direct", False):   # a direct input layer (docs/design.md §13)
            metadata.update(spikefab_x_bits=layer.x_bits, spikefab_x_shift=layer.x_shift)
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
    code = {f"spikefab_{name}": getattr(network, name) for name in ("encoder", "steps")
            if getattr(network, name) is not None}      # the input code and T, when known
    graph = nir.NIRGraph(nodes=nodes, edges=edges,
                         metadata={"spikefab_format": NIR_FORMAT, "dt": float(dt),
                                   "spikefab_discretization": "euler",
                                   "spikefab_scale": 1.0, **code})
    if path is not None:
        nir.write(os.fspath(path), graph)
    return graph


# --- snnTorch --------------------------------------------------------------------------------

def _check_snntorch_modules(module, torch, snn):
    """Refuse by name every submodule :func:`snntorch_to_nir` cannot carry into spikefab."""
    allowed = (torch.nn.Linear, torch.nn.Conv2d, torch.nn.AvgPool2d, snn.Leaky,
               torch.nn.Flatten, torch.nn.Identity, torch.nn.Sequential, torch.nn.Dropout)
    supported = ("spikefab reads nn.Conv2d, nn.AvgPool2d, nn.Flatten, nn.Linear and snn.Leaky "
                 "layers")
    for name, sub in module.named_modules():
        where = f"snnTorch module {name or '<top>'!r} of type {type(sub).__name__}"
        if sub is module and not isinstance(sub, allowed):
            continue                 # a user's own nn.Module around the layers
        if isinstance(sub, torch.nn.MaxPool2d):
            raise ValueError(f"{where} is not supported: a max pool is not a sum (spikefab's "
                             f"pools add spikes); use nn.AvgPool2d, or nn.AvgPool2d("
                             f"divisor_override=1) for a sum pool")
        if not isinstance(sub, allowed) or type(sub).__name__ in ("RLeaky",):
            raise ValueError(f"{where} is not supported; {supported}")
        if isinstance(sub, torch.nn.Conv2d):
            from .conv import check_supported
            check_supported(groups=sub.groups, dilation=sub.dilation, what=where)
            if sub.padding_mode != "zeros":
                raise ValueError(f"{where}: padding_mode {sub.padding_mode!r} is not "
                                 f"supported; only 'zeros' (NIR's and spikefab's padding)")
        if isinstance(sub, torch.nn.AvgPool2d):
            window = int(np.prod(np.broadcast_to(sub.kernel_size, 2)))
            if sub.ceil_mode:
                raise ValueError(f"{where}: ceil_mode=True makes partial windows at the "
                                 f"border, which NIR's pools do not have; use ceil_mode=False")
            if sub.divisor_override not in (None, 1, window):
                raise ValueError(f"{where}: divisor_override = {sub.divisor_override} is not "
                                 f"supported; allowed are None or {window} (an average pool) "
                                 f"and 1 (a sum pool)")
            if not sub.count_include_pad and np.any(np.asarray(sub.padding) != 0) \
                    and sub.divisor_override is None:
                raise ValueError(f"{where}: count_include_pad=False divides border windows "
                                 f"by fewer than {window}; use count_include_pad=True (or no "
                                 f"padding)")
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


def _convert(sub, export, torch, nir):
    """snnTorch's own converter of one module, except for the identities it does not know
    (``nn.Dropout``, ``nn.Identity``: it prints a warning and returns None, which leaves a
    node nir cannot write)."""
    if isinstance(sub, (torch.nn.Dropout, torch.nn.Identity)):
        from nir.ir.graph import Identity
        return Identity(input_type={"input": np.array([1])})
    return export._extract_snntorch_module(sub)


def _module_shapes(module, torch, sample):
    """``{name: (input shape, output shape)}`` of every leaf module in one forward pass of
    ``sample`` (a batch of one), batch dimension dropped: what torch itself computes, which
    the repairs write into the graph."""
    shapes, hooks = {}, []

    def record(name):
        def hook(_module, inputs, output):
            output = output[0] if isinstance(output, tuple) else output
            shapes[name] = (tuple(inputs[0].shape[1:]), tuple(output.shape[1:]))
        return hook

    for name, sub in module.named_modules():
        if not list(sub.children()):
            hooks.append(sub.register_forward_hook(record(name)))
    try:
        module(sample)
    finally:
        for hook in hooks:
            hook.remove()
    return shapes


def snntorch_to_nir(module, n_inputs, path=None):
    """An snnTorch model as an ``nir.NIRGraph`` written by snnTorch's own exporter
    (``snntorch.export_nir``'s module converter, traced by nirtorch), repaired where snnTorch
    1.0.0 loses or breaks something (docs/commands/nir.md, "snnTorch models"). Written to
    ``path`` when given.

    ``module`` is an ``nn.Sequential`` (or an ``nn.Module`` whose forward is such a chain)
    of ``nn.Conv2d`` (``groups = 1``, ``dilation = 1``, zero padding, with or without
    bias), ``nn.AvgPool2d`` (``divisor_override=1`` makes it a sum pool), ``nn.Flatten``,
    ``nn.Linear`` and ``snn.Leaky`` (``reset_mechanism`` ``'subtract'`` or ``'zero'``);
    ``nn.MaxPool2d`` and every other module are refused by name. ``n_inputs`` is the input
    size of a fully connected model, or the shape of one input without the batch
    dimension: ``(C, H, W)`` for a convolutional model.

    The repairs: the model is traced on a batch of one (what ``nn.Flatten`` and ``nn.Conv2d``
    expect) and every node's input and output types are set from torch's own shapes, with
    the batch dimension dropped (NIR shapes have none), each ``Conv2d`` gets its
    ``input_shape`` and numpy weights; scalar ``beta``/``threshold`` are broadcast to the
    layer's neurons (``(n,)``, or the ``(C, H, W)`` map after a ``Conv2d``); each LIF node's
    metadata keeps the reset mechanism and ``reset_delay`` (snnTorch writes ``v_reset = 0``
    for both of its mechanisms); an ``AvgPool2d`` keeps its padding (snnTorch writes
    ``(0, 0)``), and one with ``divisor_override=1`` is written as the ``SumPool2d`` it is;
    edges are in chain order. NIR's own ``infer_types`` is not run (nir 1.0 takes ``kh`` for
    both axes of a conv output); :func:`import_nir` checks every shape along the chain."""
    torch = need("torch", "importing snnTorch models", extra="train")
    snn = need("snntorch", "importing snnTorch models", extra="train")
    nirtorch = need("nirtorch", "importing snnTorch models", extra="train")
    nir = need("nir", "importing snnTorch models", extra="nir")
    export = need("snntorch.export_nir", "importing snnTorch models", extra="train")
    utils = need("snntorch.utils", "importing snnTorch models", extra="train")
    from .checks import check_int
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, not {type(module).__name__}")
    shape = tuple(n_inputs) if isinstance(n_inputs, (tuple, list)) else (n_inputs,)
    if not 1 <= len(shape) <= 3:
        raise ValueError(f"n_inputs has {len(shape)} dimensions; give the input size or the "
                         f"shape (C, H, W) of one input, without the batch dimension")
    shape = tuple(check_int("n_inputs", n, 1, 1 << 20) for n in shape)
    _check_snntorch_modules(module, torch, snn)
    modules = dict(module.named_modules())
    sample = torch.zeros((1, *shape))
    import warnings
    with np.errstate(divide="ignore", invalid="ignore"), torch.no_grad(), \
            warnings.catch_warnings():
        # nirtorch 2 deprecates the tracer that snnTorch 1.0's exporter is written for
        warnings.simplefilter("ignore", DeprecationWarning)
        utils.reset(module)
        try:
            shapes = _module_shapes(module, torch, sample)
        except RuntimeError as error:      # torch's own shape errors
            raise ValueError(f"the snnTorch model does not run on an input of shape {shape} "
                             f"({' '.join(str(error).split())[:200]})") from None
        utils.reset(module)
        graph = nirtorch.extract_nir_graph(
            module, lambda sub: _convert(sub, export, torch, nir), sample,
            model_name="snntorch", ignore_submodules_of=[snn.RLeaky, snn.RSynaptic])
        utils.reset(module)              # no state of the traced sample left behind

    def numpy(value):
        return value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value

    for name, node in list(graph.nodes.items()):
        sub = modules.get(name)
        if isinstance(node, nir.Input):
            node.input_type = {"input": np.array(shape)}
            node.output_type = {"output": np.array(shape)}
            continue
        if isinstance(node, nir.Output) or name not in shapes:
            continue
        given, made = shapes[name]
        types = {"input_type": {"input": np.array(given)},
                 "output_type": {"output": np.array(made)}}
        if isinstance(node, nir.Conv2d):
            node.weight, node.bias = numpy(node.weight), numpy(node.bias)
            node.input_shape = tuple(given[1:])
        elif isinstance(node, nir.AvgPool2d) and isinstance(sub, torch.nn.AvgPool2d):
            pool = dict(kernel_size=np.broadcast_to(sub.kernel_size, 2).copy(),
                        stride=np.broadcast_to(sub.stride, 2).copy(),
                        padding=np.broadcast_to(sub.padding, 2).copy())
            node = (nir.SumPool2d if sub.divisor_override == 1 else nir.AvgPool2d)(**pool)
        elif isinstance(node, nir.LIF) and isinstance(sub, snn.Leaky):
            params = {key: np.broadcast_to(np.asarray(getattr(node, key), dtype=np.float64),
                                           made).copy()
                      for key in ("tau", "r", "v_leak", "v_threshold", "v_reset")}
            metadata = dict(node.metadata or {})
            metadata.update(spikefab_reset=sub.reset_mechanism,
                            spikefab_timing="delayed" if sub.reset_delay else "immediate",
                            snntorch_module=type(sub).__name__)
            node = nir.LIF(**params, metadata=metadata)
        for key, value in types.items():
            setattr(node, key, value)
        graph.nodes[name] = node
    for source, target in graph.edges:
        if isinstance(graph.nodes.get(target), nir.Output) and source in shapes:
            made = np.array(shapes[source][1])
            graph.nodes[target].input_type = {"input": made}
            graph.nodes[target].output_type = {"output": made}
    for name, sub in modules.items():  # splice out the identities (nirtorch's tracer also
        if name in graph.nodes and isinstance(sub, (torch.nn.Dropout, torch.nn.Identity)):
            edges = [edge for edge in graph.edges if edge[0] != edge[1]]  # adds a bypass edge
            before = [s for s, t in edges if t == name]
            after = [t for s, t in edges if s == name]
            graph.edges = list(dict.fromkeys(
                [edge for edge in edges if name not in edge]
                + [(s, t) for s in before for t in after]))
            del graph.nodes[name]
    order = {name: index for index, name in enumerate(
        ["input", *[n for n in modules if n in graph.nodes], "output"])}
    graph.edges = sorted(graph.edges, key=lambda edge: order.get(edge[0], len(order)))
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


def snntorch_agreement(module, network, trains, *, chunk=256, input_shape=None):
    """How far ``network`` (spikefab's golden model) agrees with snnTorch's own forward
    pass of ``module`` on the input spike ``trains`` ``[B, T, N0]``: a dict with
    ``spikes`` (per Leaky layer, the fraction of (sample, step, neuron) spikes that agree),
    ``classes`` (the fraction of samples with the same arg-max of output spike counts, lowest
    index on ties, as the readout decides) and ``samples``. Exact models give 1.0
    everywhere; for float models this is the agreement rate after quantization.

    Each step's spikes are fed to ``module`` as ``[B, *input_shape]``: by default the
    ``(C, H, W)`` map of a first convolutional layer, else the flat ``[B, N0]``; a Leaky
    layer's spike map is compared in C, H, W order (NIR's and spikefab's). torch's NNPACK
    convolution is switched off during the forward pass (its Winograd and FFT paths round;
    the others are exact on integers)."""
    torch = need("torch", "comparing with snnTorch", extra="train")
    snn = need("snntorch", "comparing with snnTorch", extra="train")
    utils = need("snntorch.utils", "comparing with snnTorch", extra="train")
    from .simulate import check_spike_trains, simulate
    check_instance("network", network, Network)
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"module must be a torch.nn.Module (an snnTorch model), not "
                        f"{type(module).__name__}")
    trains, _ = check_spike_trains(trains, network.n_inputs)
    if input_shape is None:
        input_shape = getattr(network.layers[0], "in_map", None) or (network.n_inputs,)
    input_shape = tuple(int(n) for n in np.atleast_1d(input_shape))
    if int(np.prod(input_shape)) != network.n_inputs:
        raise ValueError(f"input_shape {input_shape} holds {int(np.prod(input_shape))} "
                         f"values; the network has {network.n_inputs} inputs")
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
                (output[0] if isinstance(output, tuple) else output).detach().numpy()
                .reshape(len(part), -1).copy()))
            for index, sub in enumerate(leaky)]
        try:
            with torch.no_grad(), torch.backends.nnpack.flags(enabled=False):
                for step in torch.as_tensor(part.transpose(1, 0, 2), dtype=torch.float32):
                    module(step.reshape(len(part), *input_shape))
        finally:
            for hook in hooks:
                hook.remove()
        utils.reset(module)
        for index, (got, want) in enumerate(zip(records, golden.spikes)):
            got = np.stack(got).transpose(1, 0, 2)
            if got.shape != want.shape:
                raise ValueError(f"Leaky layer {index} of the module gives "
                                 f"{got.shape[2]} spikes per step and the network's layer "
                                 f"{want.shape[2]}; they must describe the same model")
            agree[index] += float((got == want).sum())
        counts = np.stack(records[-1]).sum(axis=0)
        same_class += int((np.argmax(counts, axis=1) == golden.predicted).sum())
    sizes = [len(trains) * trains.shape[1] * layer.neurons for layer in network]
    return {"spikes": [float(a / s) for a, s in zip(agree, sizes)],
            "classes": same_class / len(trains), "samples": len(trains)}
