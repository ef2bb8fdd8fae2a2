"""Training data: a folder of RGB-D frames or the synthetic generator, spatially pre-encoded.

Folder layout (the common NYUDv2 preprocessed releases, one file per frame and folder):

    root/
      rgb/<name>.png|.jpg         8-bit colour
      depth/<name>.png            uint16 millimetres, 0 = missing (registered to colour)
      labels/<name>.png           uint8 NYU40 ids 0..39, 255 = unlabeled
                                  (releases with 0 = unlabeled, 1..40: use one_based_labels)
      intrinsics/<name>.txt       optional 3x3 camera matrix (default: the NYUDv2 camera)
      train.txt, test.txt         optional split files, one <name> per line

Frames are resized and spatially encoded exactly as `sgnet_ros.pipeline.pipeline` does at run time
(same functions), once: the encoded maps are cached as .npz shards, since HHA costs far
more than a training step's data loading should.
"""

from __future__ import annotations

import json
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from sgnet_ros.pipeline.contract import ModelContract
from sgnet_ros.pipeline.preprocessing import (
    network_intrinsics,
    normalise_rgb,
    normalise_spatial,
    resize_depth,
    resize_rgb,
)
from sgnet_ros.pipeline.spatial.encoding import SpatialEncoder
from sgnet_ros.training import augmentation

IGNORE_INDEX = 255
NYU_CAMERA = np.array([[518.8579, 0.0, 325.5824], [0.0, 519.4696, 253.7362], [0.0, 0.0, 1.0]])
NYU_CAMERA_SIZE = (480, 640)
SHARD_FRAMES = 200
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


@dataclass
class FrameArrays:
    """Network-sized frames: rgb (N,H,W,3) uint8, spatial (N,C,H,W) float16 in encoder units,
    labels (N,H,W) uint8 with 255 = ignore."""

    rgb: np.ndarray
    spatial: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    @classmethod
    def concatenate(cls, parts: list[FrameArrays]) -> FrameArrays:
        return cls(
            np.concatenate([p.rgb for p in parts]),
            np.concatenate([p.spatial for p in parts]),
            np.concatenate([p.labels for p in parts]),
        )


# ------------------------------------------------------------------------------ folder layout


def write_folder_frame(
    root: str | Path,
    name: str,
    rgb: np.ndarray,
    depth_m: np.ndarray,
    labels: np.ndarray,
    K: np.ndarray,
) -> None:
    """Write one frame in the folder layout (PNG colour, uint16 mm depth, uint8 labels, K)."""
    root = Path(root)
    for folder in ("rgb", "depth", "labels", "intrinsics"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    depth_mm = np.clip(np.round(np.nan_to_num(depth_m) * 1000.0), 0, 65535).astype(np.uint16)
    cv2.imwrite(str(root / "rgb" / f"{name}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(root / "depth" / f"{name}.png"), depth_mm)
    cv2.imwrite(str(root / "labels" / f"{name}.png"), labels.astype(np.uint8))
    np.savetxt(root / "intrinsics" / f"{name}.txt", np.asarray(K, dtype=np.float64))


def list_folder(root: str | Path, split: str | None = None) -> list[str]:
    """Frame names of a split file (root/<split>.txt), or every labelled frame."""
    root = Path(root)
    if not (root / "labels").is_dir():
        raise ValueError(f"{root} has no labels/ folder; "
                         "see sgnet_ros.training.datasets for the layout")
    if split is not None:
        split_file = root / f"{split}.txt"
        if not split_file.is_file():
            raise ValueError(f"split file {split_file} does not exist")
        names = [line.strip() for line in split_file.read_text().splitlines() if line.strip()]
    else:
        names = sorted(path.stem for path in (root / "labels").glob("*.png"))
    if not names:
        raise ValueError(f"no frames found in {root} (split {split!r})")
    return names


def _find_image(folder: Path, name: str) -> Path:
    for suffix in _IMAGE_SUFFIXES:
        if (folder / f"{name}{suffix}").is_file():
            return folder / f"{name}{suffix}"
    raise ValueError(f"missing {folder / name}.png (or .jpg)")


def read_folder_frame(
    root: str | Path, name: str, one_based_labels: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(rgb uint8, depth metres float32, labels uint8 with 255 = unlabeled, K 3x3)."""
    root = Path(root)
    bgr = cv2.imread(str(_find_image(root / "rgb", name)), cv2.IMREAD_COLOR)
    depth = cv2.imread(str(_find_image(root / "depth", name)), cv2.IMREAD_UNCHANGED)
    labels = cv2.imread(str(_find_image(root / "labels", name)), cv2.IMREAD_UNCHANGED)
    if bgr is None or depth is None or labels is None:
        raise ValueError(f"frame {name!r} in {root} could not be decoded")
    if depth.dtype != np.uint16 or labels.ndim != 2:
        raise ValueError(f"frame {name!r}: depth must be uint16 mm and labels single-channel")
    if not (bgr.shape[:2] == depth.shape == labels.shape):
        raise ValueError(
            f"frame {name!r}: rgb {bgr.shape[:2]}, depth {depth.shape} and labels "
            f"{labels.shape} differ in size"
        )
    labels = labels.astype(np.int32)
    if one_based_labels:
        labels = np.where(labels == 0, IGNORE_INDEX, labels - 1)
    labels = labels.astype(np.uint8)
    intrinsics = root / "intrinsics" / f"{name}.txt"
    if intrinsics.is_file():
        K = np.loadtxt(intrinsics).reshape(3, 3)
    else:
        K = network_intrinsics(NYU_CAMERA, NYU_CAMERA_SIZE, depth.shape)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), depth.astype(np.float32) / 1000.0, labels, K


# --------------------------------------------------------------------------- encoding + cache


def encode_frame(
    encoder: SpatialEncoder,
    rgb: np.ndarray,
    depth_m: np.ndarray,
    labels: np.ndarray,
    K: np.ndarray,
    size: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Resize + encode one frame the way the pipeline does; labels by nearest neighbour."""
    camera_size = depth_m.shape
    depth = resize_depth(torch.from_numpy(np.ascontiguousarray(depth_m, dtype=np.float32)), size)
    encoder.reset()  # independent frames: no gravity smoothing across them
    spatial = encoder.encode(depth, network_intrinsics(K, camera_size, size))
    rgb_small = resize_rgb(torch.from_numpy(np.ascontiguousarray(rgb)), size)
    rgb_u8 = (rgb_small.permute(1, 2, 0).numpy() * 255.0).round().clip(0, 255).astype(np.uint8)
    if labels.shape != tuple(size):
        labels = cv2.resize(labels, size[::-1], interpolation=cv2.INTER_NEAREST)
    return rgb_u8, spatial.cpu().numpy().astype(np.float16), labels.astype(np.uint8)


def _encode_synthetic_shard(job: tuple[list[int], tuple[int, int], str, str]) -> FrameArrays:
    from sgnet_ros.training.synthetic import synthetic_frame

    seeds, size, mode, style = job
    torch.set_num_threads(1)
    encoder = SpatialEncoder(mode)
    frames = []
    for seed in seeds:
        frame = synthetic_frame(seed, size, style=style)
        frames.append(encode_frame(encoder, frame.rgb, frame.depth_m, frame.labels, frame.K, size))
    return FrameArrays(*(np.stack(arrays) for arrays in zip(*frames, strict=True)))


def _encode_folder_shard(job: tuple[str, list[str], tuple[int, int], str, bool]) -> FrameArrays:
    root, names, size, mode, one_based = job
    torch.set_num_threads(1)
    encoder = SpatialEncoder(mode)
    frames = [
        encode_frame(encoder, *read_folder_frame(root, name, one_based), size) for name in names
    ]
    return FrameArrays(*(np.stack(arrays) for arrays in zip(*frames, strict=True)))


def _cached_shards(
    cache: Path | None, jobs: list, worker, description: str, workers: int
) -> FrameArrays:
    """Run `worker` on each job once; shards already in `cache` are loaded, not recomputed."""
    parts: list[FrameArrays | None] = [None] * len(jobs)
    todo = []
    for index in range(len(jobs)):
        shard = None if cache is None else cache / f"shard_{index:04d}.npz"
        if shard is not None and shard.is_file():
            with np.load(shard) as data:
                parts[index] = FrameArrays(data["rgb"], data["spatial"], data["labels"])
        else:
            todo.append(index)
    progress = tqdm(total=len(todo), desc=description, unit="shard", disable=not todo)

    def store(index: int, arrays: FrameArrays) -> None:
        parts[index] = arrays
        if cache is not None:
            cache.mkdir(parents=True, exist_ok=True)
            np.savez(
                cache / f"shard_{index:04d}.npz",
                rgb=arrays.rgb,
                spatial=arrays.spatial,
                labels=arrays.labels,
            )
        progress.update(1)

    if workers > 1 and len(todo) > 1:
        with ProcessPoolExecutor(workers, initializer=torch.set_num_threads,
                                 initargs=(1,)) as pool:  # processes, not threads, share cores
            for index, arrays in zip(todo, pool.map(worker, [jobs[i] for i in todo]), strict=True):
                store(index, arrays)
    else:
        for index in todo:
            store(index, worker(jobs[index]))
    progress.close()
    return FrameArrays.concatenate(parts)


def _cache_dir(cache_root: str | Path | None, key: dict) -> Path | None:
    if cache_root is None:
        return None
    text = "_".join(f"{k}-{v}" for k, v in key.items()).replace("/", "-").replace(" ", "")
    path = Path(cache_root) / text
    path.mkdir(parents=True, exist_ok=True)
    (path / "key.json").write_text(json.dumps(key))
    return path


def synthetic_arrays(
    seeds: range,
    size: tuple[int, int],
    mode: str,
    cache_root: str | Path | None = None,
    workers: int = 1,
    style: str = "realistic",
) -> FrameArrays:
    """Encoded synthetic frames of `style`, one per seed (cached per shard of SHARD_FRAMES
    seeds)."""
    if len(seeds) == 0:
        raise ValueError("the synthetic seed range is empty")
    seed_list = list(seeds)
    jobs = [
        (seed_list[i : i + SHARD_FRAMES], tuple(size), mode, style)
        for i in range(0, len(seed_list), SHARD_FRAMES)
    ]
    cache = _cache_dir(
        cache_root,
        {"synthetic": mode, "style": style, "size": f"{size[0]}x{size[1]}",
         "seeds": f"{seeds.start}-{seeds.stop}"},
    )
    return _cached_shards(cache, jobs, _encode_synthetic_shard, f"encoding {mode}", workers)


def folder_arrays(
    root: str | Path,
    split: str | None,
    size: tuple[int, int],
    mode: str,
    cache_root: str | Path | None = None,
    one_based_labels: bool = False,
    workers: int = 1,
) -> FrameArrays:
    """Encoded frames of a folder dataset split (cached per shard)."""
    names = list_folder(root, split)
    jobs = [
        (str(root), names[i : i + SHARD_FRAMES], tuple(size), mode, one_based_labels)
        for i in range(0, len(names), SHARD_FRAMES)
    ]
    cache = _cache_dir(
        cache_root,
        {
            "folder": Path(root).resolve().name,
            "split": split or "all",
            "mode": mode,
            "size": f"{size[0]}x{size[1]}",
            "frames": len(names),
            "one_based": one_based_labels,
        },
    )
    return _cached_shards(cache, jobs, _encode_folder_shard, f"encoding {mode}", workers)


# ------------------------------------------------------------------------------ torch dataset


AUGMENTATIONS = ("none", "basic", "strong")


class SegmentationDataset(torch.utils.data.Dataset):
    """Normalised network inputs from encoded frames, with optional augmentation.

    "basic": random crop + mirror. "strong": also a random zoom (0.6-1.5x) and strong
    photometric changes of RGB only (sgnet_ros.training.augmentation), so colour alone cannot
    explain the labels. `blind_spatial` feeds a constant spatial input (zeros after
    normalisation): the RGB-only ablation.
    Augmentation is drawn from (seed, epoch, index), so a resumed run sees the same samples.
    """

    def __init__(
        self,
        arrays: FrameArrays,
        contract: ModelContract,
        crop: tuple[int, int] | None = None,
        augment: str = "none",
        seed: int = 0,
        blind_spatial: bool = False,
    ) -> None:
        height, width = arrays.labels.shape[1:]
        if augment not in AUGMENTATIONS:
            raise ValueError(f"augment must be one of {AUGMENTATIONS}, got {augment!r}")
        if crop is not None and (crop[0] > height or crop[1] > width):
            raise ValueError(f"crop {crop} is larger than the frames ({height}, {width})")
        self.arrays, self.augment, self.seed = arrays, augment, seed
        self.out_size = tuple(crop) if crop is not None else (height, width)
        self.blind_spatial = blind_spatial
        self.epoch = 0
        self.contract = contract
        self.spatial_fill = np.asarray(contract.spatial_mean, dtype=np.float32)
        self.flip_x_channel = contract.spatial_mode == "xyz"  # mirroring negates optical x

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.arrays)

    def sample(self, index: int) -> augmentation.Sample:
        """Frame `index` as this epoch augments it, before normalisation."""
        sample = augmentation.Sample(
            self.arrays.rgb[index].astype(np.float32) / 255.0,
            self.arrays.spatial[index].astype(np.float32),
            self.arrays.labels[index],
        )
        if self.augment == "none" and self.out_size == sample.labels.shape:
            return sample
        rng = np.random.default_rng([self.seed, self.epoch, index])
        if self.augment == "none":
            return augmentation.scale_crop_flip(
                sample, self.out_size, rng, self.spatial_fill, None, flip=False)
        strong = self.augment == "strong"
        sample = augmentation.scale_crop_flip(
            sample, self.out_size, rng, self.spatial_fill,
            augmentation.SCALE_RANGE if strong else None, flip_x_channel=self.flip_x_channel)
        if strong:
            sample.rgb = augmentation.photometric(sample.rgb, rng)
        return sample

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        sample = self.sample(index)
        # The runtime's own normalisation, so training feeds the network what the node feeds.
        spatial = normalise_spatial(torch.from_numpy(sample.spatial), self.contract)
        if self.blind_spatial:
            spatial = torch.zeros_like(spatial)
        return (
            normalise_rgb(torch.from_numpy(sample.rgb.transpose(2, 0, 1).copy()), self.contract),
            spatial,
            torch.from_numpy(sample.labels.astype(np.int64)),
        )
