#!/usr/bin/env python3
"""Compares two .npy arrays, e.g. alvlm's and the Pillow + torchvision reference's preprocessed images.

    python Scripts/compare_npy.py A.npy B.npy

Prints one JSON line: {"shape_a", "shape_b", "max_abs_difference", "mean_abs_difference", "equal"}. The
differences are null when the shapes differ; "equal" means same shape and every element identical. Elements where
either side is NaN are left out of the differences and counted in "nan_mismatches" (present only when non-zero),
which makes "equal" false. Reads the arrays memory-mapped, a block at a time, so they may be larger than memory.
"""

import json
import sys

import numpy as np


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: compare_npy.py A.npy B.npy")
    a = np.load(sys.argv[1], mmap_mode="r")
    b = np.load(sys.argv[2], mmap_mode="r")
    result = {"shape_a": list(a.shape), "shape_b": list(b.shape), "max_abs_difference": None,
              "mean_abs_difference": None, "equal": False}
    if a.shape == b.shape:
        flat_a, flat_b = a.reshape(-1), b.reshape(-1)
        worst, total, unequal_nan = 0.0, 0.0, 0
        step = 1 << 24
        for start in range(0, flat_a.size, step):
            x = np.asarray(flat_a[start:start + step], dtype=np.float64)
            y = np.asarray(flat_b[start:start + step], dtype=np.float64)
            d = np.abs(x - y)
            bad = np.isnan(d)
            unequal_nan += int(bad.sum())
            d[bad] = 0
            if d.size:
                worst = max(worst, float(d.max()))
                total += float(d.sum())
        result.update(max_abs_difference=worst, mean_abs_difference=total / max(1, flat_a.size),
                      equal=worst == 0 and unequal_nan == 0)
        if unequal_nan:
            result["nan_mismatches"] = unequal_nan
    print(json.dumps(result))


if __name__ == "__main__":
    main()
