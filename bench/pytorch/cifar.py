"""CIFAR-10's training set for the PyTorch side of `make bench`, the torchvision way:
uint8 images in memory, a `Dataset` that makes each one a PIL image and runs
RandomCrop(32, padding=4), RandomHorizontalFlip, ToTensor and Normalize, and a
`DataLoader` with worker processes.

It reads what `make data` leaves at data/cifar10: the official binary folder, or an
image-folder archive or folder of JPEGs (the shared set). Decoded JPEGs are cached as
.npy files under data/cache, as the Rust side caches its own decode, so that neither
side's timings include decoding.
"""
import hashlib
import io
import os
import tarfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)


def _official_binary(folder):
    rows = [np.fromfile(folder / f"data_batch_{i}.bin", dtype=np.uint8).reshape(-1, 3073)
            for i in range(1, 6)]
    rows = np.concatenate(rows)
    images = rows[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), rows[:, 0].astype(np.int64)


def _decode(named_jpegs):
    """(class name, JPEG bytes) pairs → uint8 N×32×32×3 images and labels."""
    images, labels = [], []
    for class_name, data in named_jpegs:
        image = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        if image.shape != (32, 32, 3):
            raise ValueError(f"an image of class {class_name} is {image.shape}, not 32×32×3")
        images.append(image)
        labels.append(CLASSES.index(class_name))
    if not images:
        raise ValueError("no train/<class>/*.jpg images found")
    return np.stack(images), np.array(labels, dtype=np.int64)


def _train_jpegs(source):
    """(class name, bytes) of every train/<class>/<file> in a folder or .tar.gz, in name order."""
    if source.is_dir():
        files = sorted(p for p in (source / "train").glob("*/*") if p.parent.name in CLASSES)
        return [(p.parent.name, p.read_bytes()) for p in files]
    with tarfile.open(source) as tar:
        members = sorted((m for m in tar.getmembers() if m.isfile()), key=lambda m: m.name)
        out = []
        for m in members:
            parts = m.name.split("/")
            if len(parts) >= 3 and parts[-3] == "train" and parts[-2] in CLASSES:
                out.append((parts[-2], tar.extractfile(m).read()))
        return out


def load_train(source, cache_dir):
    """uint8 N×32×32×3 training images and int64 labels from `source`."""
    source = Path(source).resolve()
    if not source.exists():
        raise FileNotFoundError(f"{source}: no CIFAR-10 there (run `make data`)")
    if source.is_dir() and (source / "data_batch_1.bin").exists():
        return _official_binary(source)
    stat = source.stat()
    key = hashlib.sha256(f"{source}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    cache = Path(cache_dir) / f"pytorch-cifar10-train-{key}.npz"
    if cache.exists():
        with np.load(cache) as saved:
            return saved["images"], saved["labels"]
    images, labels = _decode(_train_jpegs(source))
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(cache.name + f".{os.getpid()}.tmp.npz")
    np.savez(tmp, images=images, labels=labels)
    os.replace(tmp, cache)
    return images, labels


class Cifar10Train(torch.utils.data.Dataset):
    """torchvision.datasets.CIFAR10's __getitem__: a PIL image through the transform."""

    def __init__(self, images, labels):
        try:
            from torchvision import transforms
        except ImportError as e:
            raise ValueError("torchvision is not installed in this Python: run `make torchvision`") from e

        self.images, self.labels = images, labels
        self.transform = transforms.Compose([
            transforms.RandomCrop(32, padding=4),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize(MEAN, STD),
        ])

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        return self.transform(Image.fromarray(self.images[index])), int(self.labels[index])


def train_loader(source, cache_dir, workers, batch_size=128, pin_memory=False):
    images, labels = load_train(source, cache_dir)
    return torch.utils.data.DataLoader(
        Cifar10Train(images, labels), batch_size=batch_size, shuffle=True,
        num_workers=workers, persistent_workers=workers > 0, pin_memory=pin_memory,
        drop_last=True)
