"""NIR import and export: other tools' spiking networks in, spikefab's networks out.

NIR (the Neuromorphic Intermediate Representation, ``pip install nir``) is the exchange
format of snnTorch, Norse, Sinabs, Rockpool, Lava-DL, SpiNNaker2 and others. It describes
continuous-time nodes; spikefab runs the integer discrete-time LIF of docs/design.md §2. This
module is the documented bridge between the two. ``nir``, ``torch``, ``snntorch`` and
``nirtorch`` are imported inside the functions that need them (extras ``nir`` and ``train``).

What is read
------------
A chain ``Input → [Flatten] → [pool] → (Affine | Linear | Conv2d) → [Scale] → (LIF | IF) →
… → Output``:

* ``Affine``/``Linear`` give a layer's weights and bias; consecutive affine maps (and
  ``Scale`` nodes, before or after them, or on a neuron layer's output spikes) are folded
  into one weight matrix and bias.
* ``Flatten`` (and ``Identity``) are identities for fully connected layers (the input is
  a flat vector in row-major order); a ``Flatten`` that leaves more than one dimension is
  refused.
* ``Conv2d`` (``groups = 1``, ``dilation = 1``; padding as integers, pairs, ``"valid"`` or a
  symmetric ``"same"``) and the neurons after it become a :class:`~.conv.ConvLayer`
  (docs/design.md §12) on the ``(C, H, W)`` map the Input or the Conv2d declares: the kernel
  is quantized like weights, the bias is one per output channel, and the neurons' ``tau`` and
  ``v_threshold`` must be one per layer (per output channel: refused, "per-channel neuron
  parameters are not built yet"); ``r`` and ``v_leak`` may differ per output channel.
* ``SumPool2d`` after neurons is the next ConvLayer's pool (non-overlapping only) or, before
  an ``Affine``/``Linear``, folded into its weights (``W @ sum_pool_matrix``); ``AvgPool2d`` is
  a sum pool whose ``1/(kh kw)`` divides the next kernel or weights (rounded, with the error
  reported, where they stop being integers). A ``Flatten`` of a map is the identity in C, H,
  W order (NIR shapes have no batch dimension: ``start_dim = 0``).
* ``Conv1d`` (weight ``[C_out, C_in, k]`` on a ``(C, L)`` line) becomes the ``Conv2d`` of
  height 1 that computes it: a ``C × 1 × L`` map, kernel ``1 × k``, stride ``(1, s)``,
  padding ``(0, p)`` (:func:`~spikefab.model.nir_nodes._conv1d_as_conv2d`); :func:`to_nir`
  writes it back as that ``Conv2d``.
* ``LIF`` and ``IF`` become a layer's neurons. Anything else — ``CubaLIF``/``CubaLI``, ``LI``/``I`` (non-spiking outputs: the readout counts
  spikes), ``Delay``, ``Threshold``, nested graphs (snnTorch's recurrent ``RLeaky``),
  recurrent edges and branching — raises :class:`ValueError` naming the node, its type and
  what is supported.

Discretization (time step ``dt``)
---------------------------------
NIR's LIF is ``tau dv/dt = (v_leak - v) + r I``. With ``dt`` (argument, else the graph's
``dt`` metadata, else ``1e-4`` — what snnTorch writes and reads):

* ``"euler"`` (default; snnTorch's rule): ``beta = 1 - dt/tau``, the input is scaled by
  ``r dt / tau`` and ``v_leak dt / tau`` becomes a bias. snnTorch writes ``r = tau/dt``, so
  its weights arrive unscaled; ``beta = 1`` arrives as ``tau = r = inf`` and is read as an
  unscaled integrate-and-fire layer.
* ``"zoh"`` (zero-order hold): ``beta = exp(-dt/tau)``, input scale ``r (1 - beta)``, bias
  ``v_leak (1 - beta)``.
* ``IF`` (``dv/dt = r I``) integrates ``r I`` per step, as snnTorch's reader does (Sinabs'
  reader ignores ``r``: docs/commands/nir.md, the Sinabs section).

Input scales within ``1e-5`` of 1 are taken as 1 (snnTorch stores ``r = tau/dt`` in
float32). The leak maps to the exact hardware leak: ``none`` when ``beta = 1``, ``shift``
(``beta = 1 - 2**-k``) when ``beta`` is within ``1e-6`` of such a value (``beta = 0`` is
``k = 0``), otherwise ``mul`` with ``m = round(beta 2**f)``, ``f = mul_bits`` (default 8), or
the nearest ``shift`` when ``leak_mode="shift"``. The hardware has one leak per layer:
``tau`` must agree across a layer's neurons. The report gives ``beta`` asked for, ``beta``
built and their difference.

Reset
-----
NIR knows only reset-to-value (``v_reset``), applied in the step of the spike: spikefab
reads it as ``reset="zero"``, ``timing="immediate"``; a non-zero ``v_reset`` is refused
(the hardware resets to 0 or subtracts the threshold). Ask for subtract reset or snnTorch's
delayed reset with ``reset="subtract"`` / ``timing="delayed"``, or carry them in the
neuron node's metadata (``spikefab_reset``, ``spikefab_timing``), which :func:`to_nir`
and :func:`snntorch_to_nir` write and which take precedence over ``v_reset``.

Scale rule (floats to integers)
-------------------------------
Per layer, after folding: ``W`` (scaled by the input scale), bias ``b`` and threshold.
Per-neuron thresholds are made uniform by scaling each neuron's row, bias and threshold by
``theta_max / theta_i`` (the dynamics are linear in the three when the reset value is 0).
``scale="auto"`` (default) keeps the values when they are already integers that fit
``w_bits`` (the import is then exact: scale 1), and otherwise uses the max-abs rule of
:mod:`.quantize` — ``scale = (2**(w_bits-1) - 1) / max|W|``, ``W_int = round(W scale)``,
``b_int = round(b scale)``, ``theta = max(1, round(theta scale))``. ``scale="max-abs"`` forces
the rule; a number sets the scale. ``w_bits`` defaults to the metadata, else the smallest
width holding integer weights, else 8; ``v_bits`` to the metadata, else the larger of 16 and
the rule of :func:`.quantize_layer` (the hardware membrane saturates at ``v_bits``; NIR's
and snnTorch's float membranes do not, so an import is exact only while no membrane reaches
that range).

Export and round trip
---------------------
:func:`to_nir` writes ``Affine``/``Linear`` (a ConvLayer: ``[SumPool2d →] Conv2d``, the
Input as its ``(C, H, W)`` map, a ``Flatten`` where a map meets a fully connected layer or the
Output) + ``LIF`` (``tau = dt/(1 - beta)``, ``r = tau/dt``,
``v_leak = 0``, ``v_reset = 0``) or ``IF`` (``r = 1``) per layer, and keeps what NIR cannot
express in metadata: the reset mechanism and timing, the exact leak (``k`` or ``m, f``), the
integer widths (``w_bits``, ``v_bits``), a direct input layer's ``x_bits`` and ``x_shift``,
and in the graph's metadata ``dt``, the format tag, ``spikefab_scale = 1`` (weights, biases
and thresholds are in integer hardware units) and the network's input code and T
(``spikefab_encoder``, ``spikefab_steps``). Reading that file back with :func:`from_nir`
gives the same :class:`Network`, field by field.

Direct input (docs/design.md §13)
---------------------------------
A graph of a model that takes its image as a static input — the image into the first
``Linear`` every step, as most snnTorch models do — is the same graph (Input → Affine → LIF)
as a spiking one: nothing in it says so. ``encoder="direct"`` says it: the first layer becomes
a direct input layer whose inputs are ``x_bits``-bit intensities (``x_bits``, default 8) and
``x_shift = x_bits``, so an intensity ``x`` stands for the graph's input ``x / 2**x_bits``
(``[0, 1)``: a ``ToTensor`` pixel ``x / 255`` within 0.4 %) and the current is
``(W_int x) >> x_bits`` with ``W_int`` the first layer's weights at their scale. A graph
:func:`to_nir` wrote from a direct network says it itself (``spikefab_encoder = "direct"``,
the layer's ``spikefab_x_bits`` and ``spikefab_x_shift``); ``encoder`` (any of
:data:`~spikefab.model.network.INPUT_CODES`) overrides the graph's input code.
"""

import math
import os
from dataclasses import dataclass, field

import numpy as np

from .checks import need
from .network import Layer, Network, V_BITS_RANGE, W_BITS_RANGE
# The float reference and the writers live in modules of their own; they are part of this
# module's API (``from spikefab.model.nir_io import to_nir`` keeps working).
from .nir_export import (DT, NIR_FORMAT, from_snntorch, snntorch_agreement, snntorch_to_nir,
                         to_nir)
from .nir_nodes import (_conv1d_as_conv2d, _conv_node, _conv_notes, _is_int, _map_of,
                        _one_per_layer, _per_channel, _pool_node, _pool_notes, _shape, _text)
from .nir_reference import AGREEMENT_BOUND, SHIFT_BOUND, compare_with_reference, float_reference
from .quantize import weight_scale

__all__ = ["DT", "DISCRETIZATIONS", "NIR_FORMAT", "AGREEMENT_BOUND", "SHIFT_BOUND",
           "LayerImport", "NIRImport", "NIRImportError", "from_nir", "import_nir",
           "float_reference", "compare_with_reference", "to_nir", "snntorch_to_nir",
           "from_snntorch", "snntorch_agreement"]

DISCRETIZATIONS = ("euler", "zoh")
#: Smallest membrane width of an import without ``v_bits``: the hardware membrane saturates,
#: NIR's and snnTorch's float membranes do not, so the default leaves room for long runs of
#: input that integrate-and-fire layers accumulate.
DEFAULT_V_BITS = 16

_SUPPORTED = ("Input, Output, Affine, Linear, Conv2d, Conv1d, SumPool2d, AvgPool2d, Scale, "
              "Flatten, Identity, LIF and IF in one chain (Input → [pool] → "
              "Affine/Linear/Conv2d/Conv1d → "
              "LIF/IF → … → Output)")
_SNAP = 1e-5          # relative distance within which an input scale counts as exactly 1
_BETA_SNAP = 1e-6     # distance within which beta counts as exactly 1 - 2**-k


class NIRImportError(ValueError):
    """A NIR graph or file spikefab cannot import, or a hint about one.

    The text names options in the caller's spelling: ``str(error)`` (and :meth:`text`) as
    Python arguments (``discretization='zoh'``), ``error.text(flags=True)`` as the
    ``spikefab nir import`` flags (``--discretization zoh``). ``path`` is the file it is about,
    if any (``str`` puts it first)."""

    def __init__(self, template, options=(), path=None):
        self.template, self.options, self.path = template, tuple(options), path
        super().__init__(self.text())

    def text(self, *, flags=False, path=None):
        """The message, options spelled as flags when ``flags``; ``path`` replaces the file's
        path (the command shows the one the user typed)."""
        body = _spell(self.template, self.options, flags)
        where = path if path is not None else self.path
        return body if where is None else f"{where}: {body}"


def _spell(template, options, flags):
    """``template`` with ``{0}``, ``{1}`` ... replaced by the ``(name, value)`` pairs of
    ``options`` as Python arguments or as command-line flags (``value`` None: the name
    alone; a tuple of pairs: several options, spelled together)."""
    def one(name, value):
        if flags:
            flag = "--" + name.replace("_", "-")
            return flag if value is None else f"{flag} {value}"
        return name if value is None else f"{name}={value!r}"
    spelled = []
    for option in options:
        pairs = option if isinstance(option[0], tuple) else (option,)
        spelled.append((" " if flags else ", ").join(one(*pair) for pair in pairs))
    return template.format(*spelled)


@dataclass(frozen=True)
class LayerImport:
    """How one NIR neuron node became a spikefab layer (what :func:`import_nir` reports).

    The ``*_error`` fields are the largest rounding error of each quantized parameter, in NIR
    units (``|x scale - round(x scale)| / scale``); ``weight``, ``bias``, ``theta`` and
    ``beta`` are the float layer the integers approximate (the NIR node under the chosen
    discretization, thresholds made uniform), which :func:`float_reference` runs."""

    node: str                 #: name of the LIF/IF node in the graph
    kind: str                 #: "LIF" or "IF"
    neurons: int
    beta: float               #: decay the NIR parameters ask for
    beta_hw: float            #: decay the hardware leak implements
    leak: str                 #: hardware leak mode and parameters, e.g. "shift k=4"
    reset: str
    timing: str
    reset_from: str           #: "metadata", "argument" or "v_reset"
    scale: float              #: integer units per NIR unit
    weight_error: float       #: max ``|W scale - W_int| / scale``, in NIR units
    threshold_error: float    #: ``|theta scale - theta_int| / scale``, in NIR units
    notes: tuple = ()         #: ``(template, options)`` pairs, as :class:`NIRImportError`
    bias_error: float = 0.0   #: max ``|b scale - b_int| / scale``, in NIR units
    weight: np.ndarray = field(default=None, compare=False, repr=False)
    bias: np.ndarray = field(default=None, compare=False, repr=False)
    theta: float = field(default=None, compare=False, repr=False)
    #: For a convolutional layer (a ``Conv2d`` before the neurons): ``{"in_map": (C, H, W),
    #: "stride": (sy, sx), "padding": (py, px)}``; ``weight`` is then the kernel
    #: ``[C_out, C_in, kh, kw]`` and ``bias`` one value per output channel. ``None`` for a
    #: fully connected layer.
    conv: dict = field(default=None, compare=False, repr=False)
    #: The pool before the layer's synapses, as the graph has it: ``{"kind": "SumPool2d" or
    #: "AvgPool2d", "in_map": (C, H, W), "kernel", "stride", "padding"}`` (pairs), else
    #: ``None``. ``weight`` is the synapse's own weight; the integers have the pool folded in.
    pool: dict = field(default=None, compare=False, repr=False)

    @property
    def beta_error(self):
        return abs(self.beta_hw - self.beta)

    @property
    def exact(self):
        """True when the integer layer has the NIR node's parameters exactly: no rounding
        error, the leak exact up to float32 storage of ``tau``, and scale 1 unless there is
        no leak to round (beta 0 or 1, where scaling weights, bias and threshold together
        changes no spike)."""
        return (self.beta_error <= _BETA_SNAP and self.weight_error == 0
                and self.threshold_error == 0 and self.bias_error == 0
                and (self.scale == 1 or self.beta_hw in (0.0, 1.0)))

    def note_texts(self, *, flags=False):
        """The notes as text, options spelled as Python arguments or (``flags``) as the
        command's flags."""
        return [_spell(template, options, flags) for template, options in self.notes]


@dataclass(frozen=True)
class NIRImport:
    """A network read from NIR and the per-layer record of how it was made.

    ``repairs`` says what was done to read a file NIR's own reader refuses (``()`` when
    nothing was); ``producer`` names the tool the graph looks written by when that changes
    how it reads (``"snnTorch"``), else ``None``."""

    network: Network
    layers: tuple
    dt: float
    discretization: str
    repairs: tuple = ()
    producer: str = None

    @property
    def exact(self):
        return all(layer.exact for layer in self.layers)

    def table(self, *, flags=False):
        """The import report as Markdown: a table of every quantized parameter's error, the
        notes and the verdict. Hints name options as Python arguments, or with ``flags`` as
        ``spikefab nir import`` flags."""
        rows = ["| node | type | neurons | beta asked | beta built | leak | reset | timing "
                "| scale | max weight error | max bias error | threshold error |",
                "|---|---|---:|---:|---:|---|---|---|---:|---:|---:|---:|"]
        for layer in self.layers:
            rows.append(
                f"| {layer.node} | {layer.kind} | {layer.neurons} | {layer.beta:.6g} | "
                f"{layer.beta_hw:.6g} | {layer.leak} | {layer.reset} ({layer.reset_from}) | "
                f"{layer.timing} | {layer.scale:.6g} | {layer.weight_error:.3g} | "
                f"{layer.bias_error:.3g} | {layer.threshold_error:.3g} |")
        notes = [f"- read: {repair}" for repair in self.repairs]
        notes += [f"- {layer.node}: {note}" for layer in self.layers
                  for note in layer.note_texts(flags=flags)]
        if not self.exact:
            errors = "; ".join(f"{layer.node}: " + ", ".join(
                f"{what} {error:.3g}" for what, error in (
                    ("leak (beta)", layer.beta_error), ("weights", layer.weight_error),
                    ("bias", layer.bias_error), ("threshold", layer.threshold_error))
                if error > (_BETA_SNAP if what.startswith("leak") else 0))
                for layer in self.layers if not layer.exact)
            verdict = (f"approximate: rounded {errors} (NIR units); " + _spell(
                "{0} (weights, bias, threshold) and {1} (a mul leak) make them smaller",
                (("w_bits", None), ("mul_bits", None)), flags))
        elif all(layer.beta_hw in (0.0, 1.0) for layer in self.layers):
            verdict = "exact: the integer network is the NIR graph's dynamics"
        else:
            verdict = ("exact parameters; the hardware leak rounds the decayed membrane down "
                       "(v - (v >> k)), which equals a float leak only while membranes stay "
                       "multiples of 2**k")
        return "\n".join(rows + [""] + notes + ([""] if notes else []) +
                         [f"dt = {self.dt:g}, {self.discretization}; {verdict}"])


# --- reading ---------------------------------------------------------------------------------

METADATA_PREFIXES = ("spikefab_", "spikeforge_")


def _ours(node):
    """This project's metadata of ``node``, without the prefix (the newest prefix wins)."""
    found = {}
    for prefix in reversed(METADATA_PREFIXES):
        found.update({key[len(prefix):]: value
                      for key, value in (getattr(node, "metadata", None) or {}).items()
                      if str(key).startswith(prefix)})
    return found


def _meta(node, key, default=None):
    metadata = getattr(node, "metadata", None) or {}
    value = metadata.get(key)
    if value is None and key.startswith(METADATA_PREFIXES[0]):
        value = _ours(node).get(key[len(METADATA_PREFIXES[0]):])
    return default if value is None else _text(value)


def _read(graph_or_path):
    """``(graph, repairs)``: the NIR graph, and what was done to read a file NIR's own reader
    refuses (``()`` for a graph object or a file that reads as it is)."""
    nir = need("nir", "reading NIR graphs", extra="nir")
    if isinstance(graph_or_path, nir.NIRGraph):
        return graph_or_path, ()
    if not isinstance(graph_or_path, (str, os.PathLike)):
        raise TypeError(f"graph must be an nir.NIRGraph or the path of a .nir file, not "
                        f"{type(graph_or_path).__name__}")
    path = os.fspath(graph_or_path)
    if not os.path.isfile(path):
        raise NIRImportError("no such NIR file", path=path)
    import h5py
    if not h5py.is_hdf5(path):
        raise NIRImportError("not a readable NIR file: it is not HDF5 (nir.write writes "
                             "HDF5)", path=path)
    repairs = []
    try:
        graph = nir.read(path)
    except Exception as error:  # noqa: BLE001 - nir's type check or a file that is not NIR
        try:
            graph = nir.read(path, type_check=False)
        except Exception as second:  # noqa: BLE001 - h5py/nir raise many kinds
            raise NIRImportError(f"not a readable NIR file: an HDF5 file without a NIR "
                                 f"graph nir.read can parse ({_why(second)})",
                                 path=path) from None
        repairs.append(f"nir.read refused the file ({_why(error)}); read with "
                       f"type_check=False, spikefab checks every size along the chain itself")
    if not isinstance(graph, nir.NIRGraph):
        raise NIRImportError(f"holds a single {type(graph).__name__} node, not an NIR graph",
                             path=path)
    return graph, tuple(repairs)


def _why(error):
    """An exception as one short clause (h5py's messages span lines and name internals)."""
    text = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, KeyError):
        text = f"no {text} entry"
    return text if len(text) <= 160 else text[:157] + "..."


def _identity():
    from nir.ir.graph import Identity  # not exported at the top level of nir 1.0
    return Identity


def _node_of(end, nodes):
    """The node an edge end names: the name itself, or ``name.port`` (NIR's port syntax);
    node names may contain dots themselves (nirtorch names nested modules ``block.0``)."""
    if end in nodes:
        return end
    head = end.rsplit(".", 1)[0]
    return head if head in nodes else end


def _chain(graph):
    """The nodes from Input to Output in order; refuses unsupported types and shapes of
    graph with the node's name."""
    nir = need("nir", "reading NIR graphs", extra="nir")
    allowed = (nir.Input, nir.Output, nir.Affine, nir.Linear, nir.Scale, nir.Flatten,
               nir.LIF, nir.IF, nir.Conv2d, nir.Conv1d, nir.SumPool2d, nir.AvgPool2d,
               _identity())
    for name, node in graph.nodes.items():
        if isinstance(node, nir.NIRGraph):
            raise ValueError(
                f"NIR node {name!r} is a nested NIRGraph (a subgraph, as recurrent layers such "
                f"as snnTorch's RLeaky are written); spikefab supports {_SUPPORTED}")
        if not isinstance(node, allowed):
            why = {"CubaLIF": " (current-based synapses are not in the hardware)",
                   "CubaLI": " (current-based synapses are not in the hardware)",
                   "LI": " (a non-spiking output: the readout counts spikes)",
                   "I": " (a non-spiking output: the readout counts spikes)",
                   "Delay": " (axonal delays are not in the hardware)"}.get(
                       type(node).__name__, "")
            raise ValueError(f"NIR node {name!r} of type {type(node).__name__} is not "
                             f"supported{why}; spikefab supports {_SUPPORTED}")
    succ = {name: [] for name in graph.nodes}
    pred = {name: [] for name in graph.nodes}
    for edge in graph.edges:
        source, target = (_node_of(str(end), graph.nodes) for end in edge)
        for end in (source, target):
            if end not in graph.nodes:
                raise ValueError(f"NIR edge {edge[0]!r} → {edge[1]!r} names node {end!r}, "
                                 f"which the graph does not have")
        succ[source].append(target)
        pred[target].append(source)
    state = dict.fromkeys(graph.nodes, 0)      # 0 new, 1 on the DFS path, 2 done
    for root in graph.nodes:
        if state[root]:
            continue
        stack = [(root, iter(succ[root]))]
        state[root] = 1
        while stack:
            name, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[name] = 2
                stack.pop()
            elif state[child] == 1:
                raise ValueError(
                    f"NIR edge {name!r} → {child!r} is recurrent (it closes a cycle through "
                    f"{type(graph.nodes[child]).__name__} node {child!r}); recurrent graphs "
                    f"are not supported: {_SUPPORTED}")
            elif state[child] == 0:
                state[child] = 1
                stack.append((child, iter(succ[child])))
    inputs = [n for n, node in graph.nodes.items() if isinstance(node, nir.Input)]
    outputs = [n for n, node in graph.nodes.items() if isinstance(node, nir.Output)]
    if len(inputs) != 1 or len(outputs) != 1:
        raise ValueError(f"the NIR graph has {len(inputs)} Input and {len(outputs)} Output "
                         f"nodes; spikefab needs exactly one of each ({_SUPPORTED})")
    for name in graph.nodes:
        if len(succ[name]) > 1:
            raise ValueError(f"NIR node {name!r} of type {type(graph.nodes[name]).__name__} "
                             f"feeds {len(succ[name])} nodes ({', '.join(succ[name])}); "
                             f"branching graphs are not supported: {_SUPPORTED}")
        if len(pred[name]) > 1:
            raise ValueError(f"NIR node {name!r} of type {type(graph.nodes[name]).__name__} "
                             f"has {len(pred[name])} inputs ({', '.join(pred[name])}); "
                             f"merging graphs are not supported: {_SUPPORTED}")
    order, name = [], inputs[0]
    while True:
        order.append(name)
        if name == outputs[0]:
            break
        if not succ[name]:
            raise ValueError(f"NIR node {name!r} of type {type(graph.nodes[name]).__name__} "
                             f"leads nowhere; the chain from Input never reaches Output")
        name = succ[name][0]
    stray = [n for n in graph.nodes if n not in order]
    if stray:
        raise ValueError(f"NIR node {stray[0]!r} of type {type(graph.nodes[stray[0]]).__name__} "
                         f"is not on the chain from Input to Output; spikefab supports "
                         f"{_SUPPORTED}")
    return order


def _vector(name, node_name, value, size):
    array = np.asarray(value, dtype=np.float64)
    if array.size == 1:
        return np.full(size, float(array.reshape(-1)[0]))
    array = array.reshape(-1)
    if array.size != size:
        raise ValueError(f"NIR node {node_name!r}: {name} has {array.size} values for "
                         f"{size} neurons")
    return array


def _bits_for(values):
    """The smallest signed width (>= 2) holding the integers ``values``."""
    values = np.round(np.asarray(values, dtype=np.float64))
    lo, hi = int(values.min(initial=0)), int(values.max(initial=0))
    return max(W_BITS_RANGE[0], (-lo - 1).bit_length() + 1, hi.bit_length() + 1)


def _note_size_one(notes, kind, name, shape):
    """Note an Input/Output shape with dimensions of size 1 beside others (a batch or time
    dimension the writer kept, which NIR's type check refuses)."""
    if shape.size > 1 and np.any(shape == 1) and np.count_nonzero(shape > 1) <= 1:
        notes.append(f"{kind} {name!r} declares shape {tuple(int(x) for x in shape)}: its "
                     f"dimensions of size 1 (a batch or time dimension the writer kept) are "
                     f"dropped: {int(np.prod(shape))} values")


def _snntorch_wrote(node):
    """Whether a LIF node has the marks of snnTorch's exporter: ``r = tau/1e-4`` (or
    ``tau = r = inf``), ``v_leak = 0``, ``v_reset = 0`` and no metadata."""
    nir = need("nir", "reading NIR graphs", extra="nir")
    if not isinstance(node, nir.LIF) or (node.metadata or {}):
        return False
    tau, r = (np.asarray(x, dtype=np.float64).reshape(-1) for x in (node.tau, node.r))
    zero = all(np.all(np.asarray(x if x is not None else 0.0) == 0)
               for x in (node.v_leak, node.v_reset))
    with np.errstate(invalid="ignore", divide="ignore"):
        finite = np.isfinite(tau)
        marks = np.where(finite, np.abs(r * DT / tau - 1) <= _SNAP,
                         np.isinf(r) & ~finite)
    return bool(zero and marks.all())


def _hardware_leak(beta, name, leak_mode, mul_bits, metadata):
    """``(leak parameters, beta_hw)``: metadata's exact leak if present, else the mapping
    of the module docstring."""
    mode = metadata.get("leak")
    if mode is not None:
        if mode == "none":
            return {"leak": "none"}, 1.0
        if mode == "shift":
            k = int(metadata["k"])
            return {"leak": "shift", "k": k}, 1.0 - 2.0 ** -k
        if mode == "mul":
            m, f = int(metadata["m"]), int(metadata["f"])
            return {"leak": "mul", "m": m, "f": f}, m / 2 ** f
        raise ValueError(f"NIR node {name!r}: metadata spikefab_leak = {mode!r} is not one "
                         f"of none, shift, mul")
    if beta == 1:
        return {"leak": "none"}, 1.0
    if leak_mode == "mul" and beta != 0:
        m = int(round(beta * (1 << mul_bits)))
        return {"leak": "mul", "m": m, "f": mul_bits}, m / 2 ** mul_bits
    k = min(range(0, 31), key=lambda k: abs(1 - 2.0 ** -k - beta))
    if abs(1 - 2.0 ** -k - beta) <= _BETA_SNAP or leak_mode == "shift":
        return {"leak": "shift", "k": k}, 1.0 - 2.0 ** -k
    m = int(round(beta * (1 << mul_bits)))
    return {"leak": "mul", "m": m, "f": mul_bits}, m / 2 ** mul_bits


def _neuron(node, name, size, dt, discretization):
    """``(beta, input scale, leak bias, threshold, v_reset, kind)`` per neuron."""
    nir = need("nir", "reading NIR graphs", extra="nir")
    threshold = _vector("v_threshold", name, node.v_threshold, size)
    v_reset = _vector("v_reset", name, node.v_reset if node.v_reset is not None else 0.0,
                      size)
    r = _vector("r", name, node.r, size)
    if isinstance(node, nir.IF):
        return np.ones(size), r, np.zeros(size), threshold, v_reset, "IF"
    tau = _vector("tau", name, node.tau, size)
    v_leak = _vector("v_leak", name, node.v_leak, size)
    if np.any(~(tau > 0)):
        raise ValueError(f"NIR node {name!r} (LIF): tau must be > 0, got {tau.min():g}")
    with np.errstate(divide="ignore", invalid="ignore"):
        if discretization == "euler":
            ratio = dt / tau
            beta = 1.0 - ratio
            scale = np.where(np.isinf(tau) & np.isinf(r), 1.0, r * ratio)
            bias = np.where(np.isinf(tau), 0.0, v_leak * ratio)
        else:
            beta = np.exp(-dt / tau)
            scale = np.where(np.isinf(tau) & np.isinf(r), 1.0, r * (1.0 - beta))
            bias = v_leak * (1.0 - beta)
    beta = np.where((beta < 0) & (beta >= -_BETA_SNAP), 0.0, beta)  # float32 tau = dt
    if np.any(beta < 0):
        raise NIRImportError(f"NIR node {name!r} (LIF): tau = {tau.min():g} < dt = {dt:g} "
                             f"gives beta = 1 - dt/tau < 0 under forward Euler; pass a smaller "
                             f"{{0}} or {{1}}", (("dt", None), ("discretization", "zoh")))
    if not np.all(np.isfinite(scale)) or np.any(scale == 0):
        raise ValueError(f"NIR node {name!r} (LIF): r = {r[0]:g} with tau = {tau[0]:g} gives "
                         f"an input scale of {scale[0]:g}; the input never reaches the "
                         f"membrane as a finite current")
    scale = np.where(np.abs(scale - 1) <= _SNAP, 1.0, scale)
    return beta, scale, bias, threshold, v_reset, "LIF"


def import_nir(graph_or_path, *, w_bits=None, v_bits=None, scale="auto", dt=None,
               discretization=None, reset=None, timing=None, leak_mode="auto", mul_bits=8,
               encoder=None, x_bits=None):
    """Read a NIR graph (an ``nir.NIRGraph`` or a ``.nir`` file) into a :class:`NIRImport`:
    the :class:`Network` and a per-layer report of the discretization and quantization.

    The module docstring states the rules. Raises :class:`NIRImportError` (a ``ValueError``)
    for a file or graph it cannot import. The report's ``*_error`` fields give every quantized
    parameter's rounding error; :func:`compare_with_reference` measures what they do to the
    spikes.

    Parameters
    ----------
    w_bits, v_bits : int, optional
        Integer widths (default: metadata, else derived).
    scale : "auto", "max-abs" or float > 0
        Scale rule from NIR units to integers.
    dt : float > 0, optional
        Time step (default: graph metadata ``dt``, else ``1e-4``).
    discretization : "euler" or "zoh", optional
        Default: metadata, else "euler".
    reset : "zero" or "subtract", optional
        Override the reset read from metadata or ``v_reset``.
    timing : "immediate" or "delayed", optional
        Override the reset timing read from metadata.
    leak_mode : "auto", "shift" or "mul"
        "auto": exact shift when beta = 1 - 2**-k, else mul; "shift": nearest shift;
        "mul": ``m / 2**mul_bits`` unless beta is 0 or 1.
    mul_bits : int in [1, 16]
        Fraction bits ``f`` of a ``mul`` leak (default 8): beta is built as
        ``round(beta 2**f) / 2**f``, within ``2**-(f+1)`` of the beta asked for. More bits
        make the leak closer (and the leak multiplier wider in hardware).
    encoder : one of ``INPUT_CODES``, optional
        The network's input code (default: the graph's ``spikefab_encoder`` metadata, else
        none). ``"direct"`` makes the first layer a direct input layer (module notes).
    x_bits : int in [1, 16], optional
        A direct input layer's input width (default: the layer's metadata, else 8; its
        ``x_shift`` is the metadata's when ``x_bits`` is not given, else ``x_bits``). Only
        with a direct input code.
    """
    from .checks import check_choice, check_int
    graph, repairs = _read(graph_or_path)
    squeezed = []
    if dt is None:
        dt = _meta(graph, "dt", DT)
    if isinstance(dt, bool) or not isinstance(dt, (int, float, np.floating, np.integer)) \
            or not math.isfinite(dt) or dt <= 0:
        raise ValueError(f"dt = {dt!r} is out of range; allowed range is a finite number > 0")
    dt = float(dt)
    if discretization is None:
        discretization = _meta(graph, "spikefab_discretization", "euler")
    check_choice("discretization", discretization, DISCRETIZATIONS)
    check_choice("leak_mode", leak_mode, ("auto", "shift", "mul"))
    mul_bits = check_int("mul_bits", mul_bits, 1, 16)
    if reset is not None:
        check_choice("reset", reset, ("zero", "subtract"))
    if timing is not None:
        check_choice("timing", timing, ("immediate", "delayed"))
    if w_bits is not None:
        w_bits = check_int("w_bits", w_bits, *W_BITS_RANGE)
    if v_bits is not None:
        v_bits = check_int("v_bits", v_bits, *V_BITS_RANGE)
    from .network import INPUT_CODES, X_BITS_RANGE
    if encoder is not None:
        check_choice("encoder", encoder, INPUT_CODES)
    if x_bits is not None:
        x_bits = check_int("x_bits", x_bits, *X_BITS_RANGE)
    if not (scale in ("auto", "max-abs") or (
            isinstance(scale, (int, float, np.floating, np.integer))
            and not isinstance(scale, bool) and math.isfinite(scale) and scale > 0)):
        raise ValueError(f"scale = {scale!r} is not allowed; use 'auto', 'max-abs' or a "
                         f"finite number > 0")

    nir = need("nir", "reading NIR graphs", extra="nir")
    order = _chain(graph)
    width, shape, pending, conv, pool, line = None, None, None, None, None, None
    layers, reports, last, producer, first_meta = [], [], None, None, None
    for name in order:
        node = graph.nodes[name]
        kind = type(node).__name__
        if isinstance(node, nir.Input):
            declared = _shape(node.input_type, "input")
            width = int(np.prod(declared)) if declared.size else None
            shape = _map_of(declared)
            line = tuple(int(x) for x in declared) if declared.size == 2 else None
            _note_size_one(squeezed, "Input", name, declared)
            last = name
            continue
        if isinstance(node, nir.Output):
            _note_size_one(squeezed, "Output", name, _shape(node.output_type, "output"))
            if pending is not None or conv is not None:
                raise ValueError(
                    f"NIR node {last!r} ({pending[2] if pending else 'Conv2d'}) comes after "
                    f"the last neuron layer; the readout counts spikes, so the node before "
                    f"Output must be LIF or IF")
            if pool is not None:
                raise ValueError(
                    f"NIR node {pool['name']!r} ({pool['kind']}) comes after the last neuron "
                    f"layer; the readout counts spikes, so the node before Output must be LIF "
                    f"or IF")
            break
        if isinstance(node, (nir.Flatten, _identity())):
            if isinstance(node, nir.Flatten):
                out = _shape(node.output_type, "output")
                if np.count_nonzero(out > 1) > 1:
                    raise ValueError(
                        f"NIR node {name!r} of type Flatten (start_dim = "
                        f"{_text(node.start_dim)}, end_dim = {_text(node.end_dim)}) leaves "
                        f"shape {tuple(int(x) for x in out)}; fully connected layers need a "
                        f"vector (NIR shapes have no batch dimension: start_dim = 0 flattens "
                        f"a (C, H, W) map)")
                declared = _shape(node.input_type, "input")
                if declared.size and width is not None and int(np.prod(declared)) != width:
                    raise ValueError(f"NIR node {name!r} of type Flatten takes shape "
                                     f"{tuple(int(x) for x in declared)} "
                                     f"({int(np.prod(declared))} values) but receives {width}")
                shape = None      # the same values, in C, H, W order
            last = name
            continue
        if isinstance(node, (nir.SumPool2d, nir.AvgPool2d)):
            pool = _pool_node(node, name, kind, last, shape, width, pending, conv, pool)
            shape, width, last = pool["geometry"].out_shape, pool["geometry"].n_outputs, name
            continue
        if isinstance(node, (nir.Conv2d, nir.Conv1d)):
            if pending is not None or conv is not None:
                raise ValueError(
                    f"NIR node {name!r} of type {kind} follows {last!r} "
                    f"({pending[2] if pending else 'Conv2d'}) without neurons between; each "
                    f"{kind} needs its own LIF or IF after it")
            if isinstance(node, nir.Conv1d):
                node, shape = _conv1d_as_conv2d(node, name, shape, line)
            conv = _conv_node(node, name, last, shape, width, pool, kind)
            shape, width, last = conv["geometry"].out_shape, conv["geometry"].n_outputs, name
            continue
        if isinstance(node, nir.Scale):
            if conv is not None or pool is not None:
                raise ValueError(
                    f"NIR node {name!r} of type Scale follows "
                    f"{(conv or pool)['name']!r} ({'Conv2d' if conv else pool['kind']}); "
                    f"Scale is read in fully connected chains only")
            factor = np.asarray(node.scale, dtype=np.float64).reshape(-1)
            if pending is None:
                size = width if width is not None else factor.size
                factor = _vector("scale", name, factor, size)
                pending = (np.diag(factor), np.zeros(size), "Scale")
            else:
                factor = _vector("scale", name, factor, pending[0].shape[0])
                pending = (factor[:, None] * pending[0], factor * pending[1], pending[2])
            last = name
            continue
        if isinstance(node, (nir.Affine, nir.Linear)):
            if conv is not None:
                raise ValueError(
                    f"NIR node {name!r} of type {kind} follows Conv2d node {conv['name']!r} "
                    f"without neurons between; each Conv2d needs its own LIF or IF after it")
            weight = np.asarray(node.weight, dtype=np.float64)
            if weight.ndim != 2:
                raise ValueError(f"NIR node {name!r} of type {kind}: weight must be 2-D, got "
                                 f"shape {weight.shape}")
            bias = (np.asarray(node.bias, dtype=np.float64).reshape(-1)
                    if isinstance(node, nir.Affine) else np.zeros(weight.shape[0]))
            if bias.size != weight.shape[0]:
                raise ValueError(f"NIR node {name!r} of type Affine: bias has {bias.size} "
                                 f"values for {weight.shape[0]} outputs")
            if not (np.all(np.isfinite(weight)) and np.all(np.isfinite(bias))):
                raise ValueError(f"NIR node {name!r} of type {kind}: weight and bias must be "
                                 f"finite")
            if pending is not None:
                if pending[0].shape[0] != weight.shape[1]:
                    raise ValueError(f"NIR node {name!r} of type {kind} takes "
                                     f"{weight.shape[1]} inputs but receives "
                                     f"{pending[0].shape[0]}")
                pending = (weight @ pending[0], weight @ pending[1] + bias, kind)
            else:
                if width is not None and weight.shape[1] != width:
                    raise ValueError(f"NIR node {name!r} of type {kind} takes "
                                     f"{weight.shape[1]} inputs but receives {width}")
                pending = (weight, bias, kind)
            shape, last = None, name
            continue
        # LIF or IF
        if pending is None and conv is None:
            raise ValueError(f"NIR node {name!r} of type {kind} follows {last!r} without an "
                             f"Affine, Linear or Conv2d node; spikefab layers start with one")
        size = conv["geometry"].n_outputs if conv is not None else pending[0].shape[0]
        beta, in_scale, leak_bias, threshold, v_reset, kind = _neuron(
            node, name, size, dt, discretization)
        if conv is not None:
            channels = conv["geometry"].out_channels
            for what, values in (("tau (beta)", beta), ("v_threshold", threshold)):
                _one_per_layer(name, kind, what, values, channels)
            in_scale = _per_channel(name, kind, "r (input scale)", in_scale, channels)
            leak_bias = _per_channel(name, kind, "v_leak", leak_bias, channels)
        spread = float(np.ptp(beta)) if np.all(np.isfinite(beta)) else 0.0
        if spread > _BETA_SNAP:
            raise ValueError(f"NIR node {name!r} of type {kind}: tau differs across its "
                             f"neurons (beta from {beta.min():.6g} to {beta.max():.6g}); the "
                             f"hardware has one leak per layer")
        if np.any(~(threshold > 0)) or not np.all(np.isfinite(threshold)):
            raise ValueError(f"NIR node {name!r} of type {kind}: v_threshold must be finite "
                             f"and > 0, got {threshold.min():g}")
        metadata = {key: _text(value) for key, value in _ours(node).items()}
        if first_meta is None:
            first_meta = metadata
        if np.any(v_reset != 0) and "reset" not in metadata and reset is None:
            raise NIRImportError(f"NIR node {name!r} of type {kind}: v_reset = "
                                 f"{v_reset[v_reset != 0][0]:g}; the hardware resets to 0 or "
                                 f"subtracts the threshold (pass {{0}} to ask for it)",
                                 (("reset", "subtract"),))
        notes = []
        if reset is not None or timing is not None:
            reset_from = "argument"
        elif "reset" in metadata or "timing" in metadata:
            reset_from = "metadata"
        else:
            reset_from = "v_reset"
        layer_reset = reset or metadata.get("reset", "zero")
        layer_timing = timing or metadata.get("timing", "immediate")
        if reset_from == "v_reset" and _snntorch_wrote(node):
            producer = "snnTorch"
            notes.append((
                "written by snnTorch's exporter, it seems (r = tau/dt with dt = 1e-4, "
                "v_reset = 0, no reset metadata): snnTorch writes v_reset = 0 for its "
                "default subtract reset too, so the file has lost the reset and it was read "
                "as zero/immediate; for snnTorch's defaults (reset_mechanism='subtract', "
                "reset_delay=True) pass {0}, for reset_mechanism='zero' with reset_delay=True "
                "pass {1}", ((("reset", "subtract"), ("timing", "delayed")),
                             ("timing", "delayed"))))
        theta = float(threshold.max())
        divisor = pool["divisor"] if pool is not None else 1
        if conv is not None:
            # one input scale and leak bias per output channel: they scale the channel's
            # kernel and bias, so the kernel stays shared (thresholds are one per layer)
            weight = in_scale[:, None, None, None] * conv["kernel"]
            bias = in_scale * conv["bias"] + leak_bias
            effective = weight / divisor
        else:
            weight, bias, _ = pending
            weight = in_scale[:, None] * weight
            bias = in_scale * bias + leak_bias
            if np.ptp(threshold) > 0:
                factor = theta / threshold
                weight, bias = factor[:, None] * weight, factor * bias
                notes.append((f"per-neuron thresholds ({threshold.min():g} to "
                              f"{threshold.max():g}) made uniform by scaling each neuron's "
                              f"weights and bias", ()))
            effective = weight
            if pool is not None:
                from .conv import sum_pool_matrix
                effective = weight @ sum_pool_matrix(pool["geometry"]) / divisor
        beta0 = float(beta[0])
        leak, beta_hw = _hardware_leak(beta0, name, leak_mode, mul_bits, metadata)
        bits = int(metadata["w_bits"]) if w_bits is None and "w_bits" in metadata else w_bits
        integral = _is_int(effective) and _is_int(bias) and _is_int(theta)
        if scale == "auto" and integral and (bits is None or _bits_for(effective) <= bits):
            factor = 1.0
            bits = bits or _bits_for(effective)
        else:
            bits = bits or 8
            factor = (weight_scale(effective, bits) if scale in ("auto", "max-abs")
                      else float(scale))
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        w_int = np.round(effective * factor)
        if np.any(w_int < lo) or np.any(w_int > hi):
            raise ValueError(f"NIR node {name!r}: with scale {factor:g} the weights reach "
                             f"{int(np.abs(w_int).max())}, which does not fit w_bits = {bits} "
                             f"(signed range [{lo}, {hi}])")
        b_int = np.round(bias * factor)
        theta_int = max(1, int(round(theta * factor)))
        w_int, b_int = w_int.astype(np.int64), b_int.astype(np.int64)
        if conv is not None:
            from .conv import conv2d_matrix, sum_pool_matrix
            geometry = conv["geometry"]
            matrix = conv2d_matrix(w_int, geometry)
            if pool is not None:   # float64 BLAS, exact for these small integers
                matrix = np.rint(matrix.astype(np.float64) @ sum_pool_matrix(
                    pool["geometry"]).astype(np.float64)).astype(np.int64)
            neuron_bias = np.repeat(b_int, geometry.out_height * geometry.out_width)
        else:
            matrix, neuron_bias = w_int, b_int
        layer_v_bits = int(metadata["v_bits"]) if v_bits is None and "v_bits" in metadata \
            else v_bits
        if layer_v_bits is None:
            from .quantize import quantize_layer
            layer_v_bits = max(DEFAULT_V_BITS, quantize_layer(
                matrix, w_bits=bits, threshold=theta_int, bias=neuron_bias, scale=1.0).v_bits)
        if leak["leak"] == "shift" and leak["k"] > layer_v_bits - 1:
            leak = {"leak": "shift", "k": layer_v_bits - 1}
            beta_hw = 1.0 - 2.0 ** -(layer_v_bits - 1)
        neuron = dict(theta=theta_int, w_bits=bits, v_bits=layer_v_bits, reset=layer_reset,
                      timing=layer_timing, **leak)
        if conv is not None:
            from .conv import ConvLayer
            layers.append(ConvLayer(kernel=w_int, geometry=geometry, channel_bias=b_int,
                                    pool=None if pool is None else pool["geometry"],
                                    **neuron))
            notes += _conv_notes(conv, pool, integral)
        else:
            layers.append(Layer(w_int, bias=b_int, **neuron))
            if pool is not None:
                notes += _pool_notes(pool, integral, "weights")
        text = {"none": "none", "shift": f"shift k={leak.get('k')}",
                "mul": f"mul m={leak.get('m')} f={leak.get('f')}"}[leak["leak"]]
        reports.append(LayerImport(
            node=name, kind=kind, neurons=size, beta=beta0, beta_hw=beta_hw, leak=text,
            reset=layer_reset, timing=layer_timing, reset_from=reset_from, scale=factor,
            weight_error=float(np.max(np.abs(effective * factor - w_int)) / factor),
            threshold_error=abs(theta * factor - theta_int) / factor, notes=tuple(notes),
            bias_error=float(np.max(np.abs(bias * factor - b_int), initial=0)) / factor,
            weight=weight, bias=bias, theta=theta,
            conv=None if conv is None else {"in_map": conv["geometry"].in_shape,
                                            "stride": conv["geometry"].stride,
                                            "padding": conv["geometry"].padding},
            pool=None if pool is None else {
                "kind": pool["kind"], "in_map": pool["geometry"].in_shape,
                "kernel": pool["geometry"].kernel, "stride": pool["geometry"].stride,
                "padding": pool["geometry"].padding}))
        shape = conv["geometry"].out_shape if conv is not None else None
        pending, conv, pool, width, last = None, None, None, size, name
    if not layers:
        raise ValueError(f"the NIR graph has no LIF or IF node; spikefab supports "
                         f"{_SUPPORTED}")
    if repairs:
        repairs = repairs + tuple(squeezed)
    code = {name: _meta(graph, f"spikefab_{name}") for name in ("encoder", "steps")}
    if encoder is not None:
        code["encoder"] = encoder
    if code["encoder"] == "direct":      # the first layer reads intensities (module notes)
        if x_bits is None:
            bits = int(first_meta.get("x_bits", 8))
            shift = int(first_meta.get("x_shift", bits))
        else:
            bits, shift = x_bits, x_bits
        if getattr(layers[0], "kernel", None) is not None:
            raise ValueError("encoder = 'direct' needs a fully connected first layer; this "
                             "graph's first layer is convolutional (it takes spikes)")
        try:
            layers[0] = layers[0].replace(x_bits=bits, x_shift=shift)
        except ValueError as error:
            raise ValueError(f"the first layer's metadata: spikefab_{error}") from None
    elif x_bits is not None:
        raise ValueError(f"x_bits is only used with encoder = 'direct' (a direct input "
                         f"layer), not with encoder = {code['encoder']!r}")
    try:                # the input code and T to_nir records (Network.encoder, .steps)
        network = Network(layers, **code)
    except (TypeError, ValueError) as error:
        raise ValueError(f"the graph's metadata: spikefab_{error}") from None
    return NIRImport(network, tuple(reports), dt, discretization, repairs, producer)


def from_nir(graph_or_path, **options):
    """Read a NIR graph (object or ``.nir`` file) into a :class:`Network`; ``options`` as
    :func:`import_nir`, which also returns the per-layer report."""
    return import_nir(graph_or_path, **options).network
