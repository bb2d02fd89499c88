#!/usr/bin/env python3
"""Images per second of open_clip's evaluation preprocessing (Pillow + torchvision), the reference beside
`alvlm bench preprocess`. Run by hand through `Scripts/bench.sh preprocess` (never in CI).

What is timed, for every image in turn, in one process on one thread (torch.set_num_threads(1); Pillow's
decoder and resampler are single-threaded anyway): PIL.Image.open, then open_clip's eval transform for a square
size S (default 224) with OpenAI's mean and std, in open_clip's order:

    Resize(S, interpolation=BICUBIC)    shortest side to S, torchvision on the PIL image (Pillow's resize)
    CenterCrop(S)
    convert("RGB")                      open_clip's MaybeConvertMode / _convert_to_rgb: after the crop
    ToTensor()
    Normalize(OPENAI_DATASET_MEAN, OPENAI_DATASET_STD)

and the copy of each (3, S, S) tensor into one preallocated (N, 3, S, S) float32 tensor (the stacked batch,
without the second full-size copy that torch.stack of a list would make). Reading the files is included (from
the page cache after the first repeat); writing --out is not. The best of --repeats runs is reported.
If open_clip is importable, its own open_clip.image_transform(S, is_train=False) is used instead of the
replica above (the JSON line says which).

Files: each argument is an image file (must decode) or a directory, expanded recursively to its files with a
jpg, jpeg, jpe or png extension (any case), sorted by path string, and files that fail to decode there are
skipped: the same list and order as alvlm's.

Setup, a venv with Pillow, numpy, torch and torchvision (CPU wheels are enough), e.g.

    python3 -m venv ENV
    ENV/bin/pip install pillow numpy torch torchvision

Run:

    ENV/bin/python Scripts/bench_preprocess_reference.py [--repeats 3] [--size 224] [--out X.npy] PATH...

Prints one JSON line: {"reference": "pillow+torchvision", "images", "seconds", "images_per_second",
"peak_rss_mb", "pillow", "torchvision", "torch", ...}. peak_rss_mb is the process's peak resident set, which
includes the whole (N, 3, S, S) output (0.6 MB per image at 224) and the Python/torch runtime.
"""

import argparse
import json
import os
import resource
import sys
import time

import numpy as np
import PIL
import torch
import torchvision
from PIL import Image, features
from torchvision.transforms import CenterCrop, Compose, InterpolationMode, Normalize, Resize, ToTensor

OPENAI_DATASET_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_DATASET_STD = (0.26862954, 0.26130258, 0.27577711)
EXTENSIONS = {"jpg", "jpeg", "jpe", "png"}


def expand(paths):
    """[(path, explicit)] in alvlm's order: arguments in order, each directory's images sorted by path."""
    out = []
    for p in paths:
        if os.path.isdir(p):
            found = []
            for root, dirs, files in os.walk(p):
                for name in files:
                    if os.path.splitext(name)[1][1:].lower() in EXTENSIONS:
                        found.append(os.path.join(root, name))
            out += [(f, False) for f in sorted(found)]
        elif os.path.exists(p):
            out.append((p, True))
        else:
            sys.exit(f"{p}: no such file or directory")
    return out


def open_clip_transform(size):
    """open_clip's eval transform; the library's own when installed, else the same steps built here."""
    try:
        import open_clip
        from open_clip.transform import image_transform
        return image_transform(size, is_train=False), f"open_clip {open_clip.__version__}"
    except ImportError:
        pass
    return Compose([
        Resize(size, interpolation=InterpolationMode.BICUBIC),
        CenterCrop(size),
        lambda image: image.convert("RGB"),
        ToTensor(),
        Normalize(mean=OPENAI_DATASET_MEAN, std=OPENAI_DATASET_STD),
    ]), "replica of open_clip's eval transform"


def run(files, transform, size):
    """Decode, transform and stack every file; (tensor of the kept images, kept paths)."""
    batch = torch.empty((len(files), 3, size, size), dtype=torch.float32)
    kept = []
    for path, explicit in files:
        try:
            with Image.open(path) as image:
                pixels = transform(image)
        except Exception as error:  # a bad file found in a directory is skipped, as alvlm does
            if explicit:
                raise
            print(f"warning: {path}: {error} (skipped)", file=sys.stderr)
            continue
        batch[len(kept)] = pixels
        kept.append(path)
    return batch[:len(kept)], kept


def main():
    ap = argparse.ArgumentParser(description="Pillow + torchvision (open_clip eval) preprocessing throughput.")
    ap.add_argument("paths", nargs="+", help="image files or directories")
    ap.add_argument("--repeats", type=int, default=3, help="runs; the best is reported")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--out", help="also write the (N, 3, S, S) float32 array of the last run to this .npy")
    args = ap.parse_args()
    if args.repeats < 1:
        sys.exit("--repeats must be positive")
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    files = expand(args.paths)
    if not files:
        sys.exit("no images found")
    transform, which = open_clip_transform(args.size)
    load = os.getloadavg()[0]
    best, batch, kept = float("inf"), None, []
    for _ in range(args.repeats):
        batch = None  # free the previous run's output before the next one allocates its own
        start = time.perf_counter()
        batch, kept = run(files, transform, args.size)
        best = min(best, time.perf_counter() - start)
    if args.out:
        np.save(args.out, batch.numpy())
    print(json.dumps({
        "reference": "pillow+torchvision",
        "transform": which,
        "images": len(kept),
        "skipped": len(files) - len(kept),
        "size": args.size,
        "repeats": args.repeats,
        "seconds": round(best, 4),
        "images_per_second": round(len(kept) / best, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "threads": torch.get_num_threads(),
        "load_average": round(load, 2),
        "pillow": PIL.__version__,
        "libjpeg_turbo": features.version("libjpeg_turbo"),
        "torchvision": torchvision.__version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
    }))


if __name__ == "__main__":
    main()
