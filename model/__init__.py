"""spikefab.model — the NumPy golden reference (docs/design.md §2–§4).

Integer network description, quantization and pruning, input encoders, the exact golden
simulation, weight-memory images and the cycle model. Imports nothing else of spikefab:
the reference never depends on what it checks.
"""

from .network import (LEAK_MODES, RESET_MECHANISMS, RESET_TIMINGS, Layer, Network,
                      signed_range)
from .quantize import (leak_for_beta, prune, prune_network, quantize_layer, quantize_network,
                       weight_scale)
from .encoders import (RATE_SEED, encode, encode_direct, encode_images, encode_latency, encode_rate, encode_spikes,
                       rate_thresholds, to_intensity, xorshift32)
from .early_exit import ExitRule
from .simulate import SimResult, layer_step, simulate
from .memory import FORMATS, Memory, WeightImage, compile_weights, decode_weights
from .reference import reference_network
from .convert import balance_thresholds, convert_mlp
from .datasets import DATASETS, Split, load_dataset, load_images_file, load_mnist, mnist_split
from .digits import DIGITS, digits_network, mlp_network, train_mlp
from .mnist import MNISTReference, mnist_reference
from .nir_io import (LayerImport, NIRImport, from_nir, from_snntorch, import_nir,
                     snntorch_agreement, snntorch_to_nir, to_nir)
from .train import TrainConfig, TrainedSNN, train_snn
from .cycles import (CycleReport, HardwareConfig, LayerConfig, LayerCycles, Timing, cycle_model,
                     lower_bound, single_layer_cycles)

__all__ = [
    "LEAK_MODES", "RESET_MECHANISMS", "RESET_TIMINGS", "Layer", "Network", "signed_range",
    "leak_for_beta", "prune", "prune_network", "quantize_layer", "quantize_network",
    "weight_scale",
    "RATE_SEED", "encode", "encode_direct", "encode_images", "encode_latency", "encode_rate", "encode_spikes", "rate_thresholds",
    "to_intensity", "xorshift32",
    "ExitRule", "SimResult", "layer_step", "simulate",
    "FORMATS", "Memory", "WeightImage", "compile_weights", "decode_weights",
    "CycleReport", "HardwareConfig", "LayerConfig", "LayerCycles", "Timing", "cycle_model",
    "lower_bound", "single_layer_cycles", "reference_network", "balance_thresholds",
    "convert_mlp",
    "MNISTReference", "load_mnist", "mnist_reference", "mnist_split",
    "DATASETS", "Split", "load_dataset", "load_images_file",
    "DIGITS", "digits_network", "mlp_network", "train_mlp",
    "LayerImport", "NIRImport", "from_nir", "from_snntorch", "import_nir", "snntorch_to_nir",
    "snntorch_agreement", "to_nir", "TrainConfig", "TrainedSNN", "train_snn",
]
