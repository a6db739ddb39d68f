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
* ``LIF`` and ``IF`` become a layer's neurons. Anything else — ``Conv1d``,
  ``CubaLIF``/``CubaLI``, ``LI``/``I`` (non-spiking outputs: the readout counts
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
* ``IF`` (``dv/dt = r I``) integrates ``r I`` per step, as snnTorch's and Sinabs' readers do.

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
integer widths (``w_bits``, ``v_bits``), and in the graph's metadata ``dt``, the format tag
and ``spikefab_scale = 1`` (weights, biases and thresholds are in integer hardware units).
Reading that file back with :func:`from_nir` gives the same :class:`Network`, field by field.
"""

import math
import os
from dataclasses import dataclass, field

import numpy as np

from .checks import check_instance, need
from .network import Layer, Network, V_BITS_RANGE, W_BITS_RANGE
from .quantize import weight_scale

__all__ = ["DT", "DISCRETIZATIONS", "NIR_FORMAT", "AGREEMENT_BOUND", "SHIFT_BOUND",
           "LayerImport", "NIRImport", "NIRImportError", "from_nir", "import_nir",
           "float_reference", "compare_with_reference", "to_nir", "snntorch_to_nir",
           "from_snntorch", "snntorch_agreement"]

#: NIR time step used when neither the caller nor the graph's metadata give one (snnTorch's).
DT = 1e-4
DISCRETIZATIONS = ("euler", "zoh")
#: Smallest membrane width of an import without ``v_bits``: the hardware membrane saturates,
#: NIR's and snnTorch's float membranes do not, so the default leaves room for long runs of
#: input that integrate-and-fire layers accumulate.
DEFAULT_V_BITS = 16
#: Graph metadata tag of files written by :func:`to_nir`.
NIR_FORMAT = "spikefab-nir-1"

_SUPPORTED = ("Input, Output, Affine, Linear, Conv2d, SumPool2d, AvgPool2d, Scale, Flatten, "
              "Identity, LIF and IF in one chain (Input → [pool] → Affine/Linear/Conv2d → "
              "LIF/IF → … → Output)")
#: Bounds of :func:`compare_with_reference`'s verdict: the integer network behaves like the
#: float reference of the NIR graph when at least this fraction of the spikes of either agree
#: (same sample, step and neuron) ...
AGREEMENT_BOUND = 0.9
#: ... and no neuron's first spike moves by more than this many steps.
SHIFT_BOUND = 2
_SNAP = 1e-5          # relative distance within which an input scale counts as exactly 1
_BETA_SNAP = 1e-6     # distance within which beta counts as exactly 1 - 2**-k
_INTEGER = 1e-6       # relative distance within which a float counts as an integer


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

def _text(value):
    value = value.item() if isinstance(value, np.ndarray) and value.ndim == 0 else value
    if isinstance(value, (bytes, np.bytes_)):
        return value.decode()
    return value


#: Metadata key prefixes read, newest first: files written before the project was renamed
#: (``spikeforge_*``, ``spikeforge-nir-1``) read as they did then.
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
               nir.LIF, nir.IF, nir.Conv2d, nir.SumPool2d, nir.AvgPool2d, _identity())
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


def _shape(types, key):
    """A node's declared shape as a 1-D int array (empty when the writer left it out)."""
    value = (types or {}).get(key)
    if value is None:
        return np.zeros(0, dtype=np.int64)
    return np.asarray(value, dtype=np.int64).reshape(-1)


def _vector(name, node_name, value, size):
    array = np.asarray(value, dtype=np.float64)
    if array.size == 1:
        return np.full(size, float(array.reshape(-1)[0]))
    array = array.reshape(-1)
    if array.size != size:
        raise ValueError(f"NIR node {node_name!r}: {name} has {array.size} values for "
                         f"{size} neurons")
    return array


def _is_int(values):
    values = np.asarray(values, dtype=np.float64)
    return bool(np.all(np.isfinite(values)) and
                np.all(np.abs(values - np.round(values)) <= _INTEGER * np.maximum(1, np.abs(values))))


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


def _map_of(declared):
    """A declared shape as a ``(C, H, W)`` map, or ``None`` for a vector (a leading batch
    dimension of size 1 is dropped)."""
    dims = tuple(int(x) for x in declared)
    if len(dims) == 4 and dims[0] == 1:
        dims = dims[1:]
    return dims if len(dims) == 3 else None


def _pair_of(value, where, what, default=None):
    """A NIR kernel size, stride or padding (one integer or a pair) as ``(height, width)``."""
    if value is None and default is not None:
        return default
    array = np.asarray(_text(value) if not isinstance(value, np.ndarray) else value)
    if array.dtype.kind not in "iuf" or array.size not in (1, 2) or not _is_int(array):
        raise ValueError(f"{where}: {what} = {value!r} is not one integer or a pair of "
                         f"integers (height, width)")
    return tuple(int(round(float(v))) for v in np.broadcast_to(array.reshape(-1), 2))


def _padding(value, kernel, stride, where):
    """NIR's padding (an integer, a pair, or the strings 'valid' and 'same' that
    ``nir.Conv2d`` accepts) as ``(py, px)``."""
    text = _text(value)
    if isinstance(text, np.ndarray) and text.dtype.kind in "SU" and text.size == 1:
        text = _text(text.reshape(-1)[0])
    if isinstance(text, str):
        if text == "valid":
            return 0, 0
        if text == "same":
            if stride == (1, 1) and all(k % 2 for k in kernel):
                return tuple((k - 1) // 2 for k in kernel)
            raise ValueError(f"{where}: padding 'same' with kernel {kernel} and stride "
                             f"{stride} pads unevenly (or depends on the input size); only "
                             f"the symmetric case is built (odd kernel, stride 1): give the "
                             f"padding as integers")
        raise ValueError(f"{where}: padding {text!r} is not supported; use an integer, a "
                         f"pair (py, px), 'valid' or 'same'")
    return _pair_of(value, where, "padding")


def _pool_node(node, name, kind, last, shape, width, pending, conv, pool):
    """The pending pool of a ``SumPool2d``/``AvgPool2d`` node: ``{"name", "kind",
    "geometry", "divisor"}`` (``divisor`` is ``kh * kw`` for an average pool, else 1)."""
    from .conv import sum_pool_geometry
    where = f"NIR node {name!r} of type {kind}"
    if pending is not None or conv is not None:
        raise ValueError(f"{where} pools the output of {last!r} before any neurons; spikefab "
                         f"pools spikes (after LIF or IF), not currents")
    if pool is not None:
        raise ValueError(f"{where} follows the pool {pool['name']!r}; two pools in a row are "
                         f"not supported (write them as one)")
    if shape is None:
        got = "an unknown number of" if width is None else width
        raise ValueError(f"{where} needs a (C, H, W) map, but {last!r} gives {got} values "
                         f"without one (declare the Input's shape as (C, H, W))")
    kernel = _pair_of(node.kernel_size, where, "kernel_size")
    stride = _pair_of(node.stride, where, "stride", default=kernel)
    padding = _padding(node.padding, kernel, stride, where)
    try:
        geometry = sum_pool_geometry(*shape, kernel, stride, padding)
    except (ValueError, TypeError) as error:
        raise ValueError(f"{where}: {error}") from None
    return {"name": name, "kind": kind, "geometry": geometry,
            "divisor": kernel[0] * kernel[1] if kind == "AvgPool2d" else 1}


def _conv_node(node, name, last, shape, width, pool):
    """A ``Conv2d`` node as ``{"name", "kernel", "bias", "geometry"}`` (floats), checked
    against the map it receives and the pool before it."""
    from .conv import Conv2dGeometry, check_supported
    where = f"NIR node {name!r} of type Conv2d"
    weight = np.asarray(node.weight, dtype=np.float64)
    if weight.ndim != 4:
        raise ValueError(f"{where}: weight must be 4-D (C_out, C_in, kh, kw), got shape "
                         f"{weight.shape}")
    check_supported(groups=node.groups, dilation=node.dilation, what=where)
    if pool is not None and pool["geometry"].stride != pool["geometry"].kernel:
        raise ValueError(
            f"NIR node {pool['name']!r} of type {pool['kind']}: stride "
            f"{pool['geometry'].stride} differs from its kernel {pool['geometry'].kernel}; an "
            f"overlapping pool before Conv2d node {name!r} is not built (one spike would "
            f"become several events); only stride = kernel_size")
    c_out, c_in, kh, kw = weight.shape
    declared = None if node.input_shape is None else tuple(
        int(v) for v in np.asarray(node.input_shape).reshape(-1))
    if declared is not None and len(declared) != 2:
        raise ValueError(f"{where}: input_shape {declared} is not (height, width)")
    if shape is not None:
        if shape[0] != c_in or (declared is not None and declared != shape[1:]):
            reads = (c_in, *(declared or ("H", "W")))
            raise ValueError(f"{where} reads a {reads} map (C_in, H, W) but {last!r} gives "
                             f"{shape}")
        in_map = shape
    elif declared is not None:
        in_map = (c_in, *declared)
        if width is not None and int(np.prod(in_map)) != width:
            raise ValueError(f"{where} reads a {in_map} map ({int(np.prod(in_map))} values) "
                             f"but {last!r} gives {width} values")
    else:
        raise ValueError(f"{where} has no input_shape and {last!r} gives no (C, H, W) map; "
                         f"declare one of them")
    stride = _pair_of(node.stride, where, "stride")
    padding = _padding(node.padding, (kh, kw), stride, where)
    try:
        geometry = Conv2dGeometry(*in_map, c_out, (kh, kw), stride, padding)
    except (ValueError, TypeError) as error:
        raise ValueError(f"{where}: {error}") from None
    out = _shape(node.output_type, "output")
    notes = []
    if out.size and _map_of(out) != geometry.out_shape:
        # nir 1.0's shape inference uses kh for both axes: trust the definition
        notes.append((f"Conv2d {name!r} declares the output {tuple(int(x) for x in out)}; "
                      f"its weight, stride and padding on the {in_map} map give "
                      f"{geometry.out_shape}, which is what was built (nir's shape inference "
                      f"takes kh for both axes)", ()))
    bias = np.zeros(c_out) if node.bias is None else np.asarray(node.bias, dtype=np.float64)
    if bias.size == 1 and c_out > 1:
        bias = np.full(c_out, float(bias.reshape(-1)[0]))
    bias = bias.reshape(-1)
    if bias.size != c_out:
        raise ValueError(f"{where}: bias has {bias.size} values for {c_out} output channels")
    if not (np.all(np.isfinite(weight)) and np.all(np.isfinite(bias))):
        raise ValueError(f"{where}: weight and bias must be finite")
    return {"name": name, "kernel": weight, "bias": bias, "geometry": geometry,
            "notes": notes}


def _channel_rows(values, channels):
    return np.asarray(values, dtype=np.float64).reshape(channels, -1)


def _differs(rows):
    return ~np.isclose(rows, rows[:, :1], rtol=_INTEGER, atol=0)


def _one_per_layer(name, kind, what, values, channels):
    """Refuse by name a conv layer's neuron parameter that is not one value for the layer."""
    rows = _channel_rows(values, channels)
    if np.any(_differs(rows)):
        raise ValueError(f"NIR node {name!r} of type {kind} after a Conv2d: {what} differs "
                         f"within an output channel; a convolutional layer has one {what} "
                         f"for all its neurons")
    column = rows[:, :1].T
    if np.any(_differs(column)):
        raise ValueError(f"NIR node {name!r} of type {kind} after a Conv2d: {what} differs "
                         f"between output channels ({np.nanmin(rows):.6g} to "
                         f"{np.nanmax(rows):.6g}); per-channel neuron parameters are not "
                         f"built yet (one {what} per convolutional layer)")


def _per_channel(name, kind, what, values, channels):
    """A conv layer's per-neuron parameter as one value per output channel (it scales or
    shifts the channel's kernel and bias, which keeps the kernel shared)."""
    rows = _channel_rows(values, channels)
    if np.any(_differs(rows)):
        raise ValueError(f"NIR node {name!r} of type {kind} after a Conv2d: {what} differs "
                         f"within an output channel; a convolutional layer's kernel is shared "
                         f"by every position of a channel")
    return rows[:, 0].copy()


def _pool_notes(pool, integral, into):
    """Notes saying how the pool before a layer was folded into ``into``."""
    geometry, kind = pool["geometry"], pool["kind"]
    size = f"{geometry.kernel[0]}x{geometry.kernel[1]}"
    copies = ("non-overlapping: weights copied" if geometry.stride == geometry.kernel
              else f"stride {geometry.stride}, overlapping: the weights of overlapping "
                   f"windows add")
    if into == "pool":
        text = (f"{kind} {pool['name']!r} ({size}) before it is the ConvLayer's sum pool (an "
                f"address remap)")
    else:
        text = f"{kind} {pool['name']!r} ({size}) folded into the weights ({copies})"
    if kind == "AvgPool2d":
        what = "kernel" if into == "pool" else "weights"
        text += (f"; its 1/{pool['divisor']} divides the {what}"
                 + (" exactly" if integral else ", rounded (see the weight error)"))
    return [(text, ())]


def _conv_notes(conv, pool, integral):
    """Notes saying a layer runs as a ConvLayer, and how its pool was read."""
    geometry = conv["geometry"]
    c_out, c_in, kh, kw = conv["kernel"].shape
    rows = geometry.n_outputs
    columns = (pool["geometry"] if pool is not None else geometry).n_inputs
    notes = [(f"runs as a ConvLayer: Conv2d {conv['name']!r}, kernel {c_out}x{c_in}x{kh}x{kw}, "
              f"stride {geometry.stride}, padding {geometry.padding}, map {geometry.in_shape} "
              f"to {geometry.out_shape}; today's accelerator runs it as the unrolled baseline "
              f"({rows} x {columns} weights, no weight sharing)", ())]
    if pool is not None:
        notes += _pool_notes(pool, integral, "pool")
    return notes + conv["notes"]


def import_nir(graph_or_path, *, w_bits=None, v_bits=None, scale="auto", dt=None,
               discretization=None, reset=None, timing=None, leak_mode="auto", mul_bits=8):
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
    if not (scale in ("auto", "max-abs") or (
            isinstance(scale, (int, float, np.floating, np.integer))
            and not isinstance(scale, bool) and math.isfinite(scale) and scale > 0)):
        raise ValueError(f"scale = {scale!r} is not allowed; use 'auto', 'max-abs' or a "
                         f"finite number > 0")

    nir = need("nir", "reading NIR graphs", extra="nir")
    order = _chain(graph)
    width, shape, pending, conv, pool = None, None, None, None, None
    layers, reports, last, producer = [], [], None, None
    for name in order:
        node = graph.nodes[name]
        kind = type(node).__name__
        if isinstance(node, nir.Input):
            declared = _shape(node.input_type, "input")
            width = int(np.prod(declared)) if declared.size else None
            shape = _map_of(declared)
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
        if isinstance(node, nir.Conv2d):
            if pending is not None or conv is not None:
                raise ValueError(
                    f"NIR node {name!r} of type Conv2d follows {last!r} "
                    f"({pending[2] if pending else 'Conv2d'}) without neurons between; each "
                    f"Conv2d needs its own LIF or IF after it")
            conv = _conv_node(node, name, last, shape, width, pool)
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
    return NIRImport(Network(layers), tuple(reports), dt, discretization, repairs, producer)


def from_nir(graph_or_path, **options):
    """Read a NIR graph (object or ``.nir`` file) into a :class:`Network`; ``options`` as
    :func:`import_nir`, which also returns the per-layer report."""
    return import_nir(graph_or_path, **options).network


def float_reference(imported, trains):
    """The NIR graph as :func:`import_nir` read it, run in float64: every layer's spikes
    ``[B, T, N]`` for the input spike ``trains`` ``[B, T, N0]``.

    Each layer runs the float parameters the integers approximate (``LayerImport.weight``,
    ``bias``, ``theta``, ``beta``: the NIR node under the chosen discretization) with the
    golden model's step rule (docs/design.md §2: leak, integrate, fire when ``v > theta``,
    the layer's reset and timing) and no saturation, as NIR's float membranes have none."""
    check_instance("imported", imported, NIRImport)
    from .simulate import check_spike_trains
    trains, _ = check_spike_trains(trains, imported.network.n_inputs)
    batch, steps, _ = trains.shape
    spikes_in = trains.astype(np.float64)
    out = []
    for report in imported.layers:
        weight = np.asarray(report.weight, dtype=np.float64)
        bias, theta, beta = report.bias, report.theta, report.beta
        v = np.zeros((batch, report.neurons))
        fired = np.zeros((batch, report.neurons), dtype=np.bool_)
        spikes = np.zeros((batch, steps, report.neurons), dtype=np.bool_)
        for t in range(steps):
            x = spikes_in[:, t]
            if report.pool is not None:
                pool = report.pool
                ones = np.ones((1, 1, *pool["kernel"]))
                x = _float_correlate(x.reshape(batch, *pool["in_map"]), ones, pool["stride"],
                                     pool["padding"], per_channel=True)
                if pool["kind"] == "AvgPool2d":
                    x = x / (pool["kernel"][0] * pool["kernel"][1])
                x = x.reshape(batch, -1)
            if report.conv is not None:
                conv = report.conv
                maps = _float_correlate(x.reshape(batch, *conv["in_map"]), weight,
                                        conv["stride"], conv["padding"])
                current = (maps + np.asarray(bias)[None, :, None, None]).reshape(batch, -1)
            else:
                current = x @ weight.T + bias
            if report.timing == "immediate":
                v = beta * v + current
                fired = v > theta
                v = v - theta * fired if report.reset == "subtract" else np.where(fired, 0, v)
            else:
                if report.reset == "subtract":
                    v = beta * v + current - theta * fired
                else:
                    v = np.where(fired, 0.0, beta * v) + current
                fired = v > theta
            spikes[:, t] = fired
        out.append(spikes)
        spikes_in = spikes.astype(np.float64)
    return out


def _float_correlate(maps, kernel, stride, padding, *, per_channel=False):
    """NIR's Conv2d (``kernel`` ``[C_out, C_in, kh, kw]``) or, ``per_channel``, a sum pool
    (``kernel`` ``[1, 1, kh, kw]`` of ones applied to each channel alone) of the float maps
    ``[B, C, H, W]`` with zero padding: one tap at a time, in float64. It is written apart
    from :mod:`.conv` (the integer model's arithmetic) so the two check each other."""
    batch, channels, height, width = maps.shape
    kh, kw = kernel.shape[2:]
    (sy, sx), (py, px) = stride, padding
    out_h, out_w = (height + 2 * py - kh) // sy + 1, (width + 2 * px - kw) // sx + 1
    padded = np.zeros((batch, channels, height + 2 * py, width + 2 * px))
    padded[:, :, py:py + height, px:px + width] = maps
    out = np.zeros((batch, channels if per_channel else kernel.shape[0], out_h, out_w))
    for ky in range(kh):
        for kx in range(kw):
            taps = padded[:, :, ky:ky + sy * (out_h - 1) + 1:sy, kx:kx + sx * (out_w - 1) + 1:sx]
            if per_channel:
                out += kernel[0, 0, ky, kx] * taps
            else:
                out += np.einsum("bchw,oc->bohw", taps, kernel[:, :, ky, kx])
    return out


def _first_spikes(spikes):
    """``[B, N]`` step of each neuron's first spike, -1 where it never fires."""
    first = np.argmax(spikes, axis=1)
    return np.where(spikes.any(axis=1), first, -1)


def compare_with_reference(imported, trains, golden=None):
    """What the quantization does to behaviour: the integer network (the golden model, or its
    result ``golden`` for these trains) beside :func:`float_reference` on the same ``trains``.

    Returns a dict: ``layers`` (per layer ``node``, ``float_spikes``, ``integer_spikes``,
    ``agreement`` — spikes at the same sample, step and neuron over spikes of either, 1.0 when
    neither spikes —, ``max_shift`` — the largest ``|first spike (integer) - first spike
    (float)|`` in steps over the (sample, neuron) pairs where both fire, 0 if none —,
    ``one_only`` — (sample, neuron) pairs where only one of the two fires), ``agreement``
    and ``max_shift`` over all layers, ``samples``, ``steps``, and ``within_bound``:
    agreement >= :data:`AGREEMENT_BOUND`, max_shift <= :data:`SHIFT_BOUND` and one_only 0."""
    from .simulate import simulate
    check_instance("imported", imported, NIRImport)
    reference = float_reference(imported, trains)
    if golden is None:
        golden = simulate(imported.network, np.asarray(trains))
    layers, common, either = [], 0, 0
    for report, floats, ints in zip(imported.layers, reference, golden.spikes):
        ints = np.asarray(ints, dtype=np.bool_).reshape(floats.shape)
        both, any_ = int((floats & ints).sum()), int((floats | ints).sum())
        first_f, first_i = _first_spikes(floats), _first_spikes(ints)
        fire_both = (first_f >= 0) & (first_i >= 0)
        layers.append({
            "node": report.node, "float_spikes": int(floats.sum()),
            "integer_spikes": int(ints.sum()), "agreement": both / any_ if any_ else 1.0,
            "max_shift": int(np.abs(first_i - first_f)[fire_both].max(initial=0)),
            "one_only": int(((first_f >= 0) != (first_i >= 0)).sum())})
        common, either = common + both, either + any_
    agreement = common / either if either else 1.0
    max_shift = max(layer["max_shift"] for layer in layers)
    one_only = sum(layer["one_only"] for layer in layers)
    return {"layers": layers, "agreement": agreement, "max_shift": max_shift,
            "one_only": one_only, "samples": reference[0].shape[0],
            "steps": reference[0].shape[1],
            "within_bound": agreement >= AGREEMENT_BOUND and max_shift <= SHIFT_BOUND
            and one_only == 0}


# --- writing ---------------------------------------------------------------------------------

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
