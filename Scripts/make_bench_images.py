#!/usr/bin/env python3
"""Writes a deterministic stand-in image set for `Scripts/bench.sh preprocess`: N (default 2000) 250x250 RGB
JPEGs, Pillow quality 90 with 4:2:0 chroma subsampling, of fabric-like content (plain, twill and satin weaves
with striped or checked yarn colours, knits, felts), most with uneven lighting, slight rotation and blur, sensor
noise, and about a third with a defect (hole, stain, broken or thick yarn).

Used when no real image set is at hand: the files are synthetic, not photographs, but they have the size,
format and the kind of fine high-frequency detail that makes JPEG decoding and bicubic resizing cost what they
cost on real photographs of textiles.

    python Scripts/make_bench_images.py OUT_DIR [--count 2000] [--seed 0]

Needs numpy and Pillow. The same seed and count give the same pixels (the JPEG bytes depend on the libjpeg
that Pillow links).
"""

import argparse
import math
import os

import numpy as np
from PIL import Image, ImageFilter

SIZE = 250


def smooth_noise(rng, scale, size=SIZE):
    """Noise with features about `scale` pixels wide, in [-1, 1]."""
    n = max(2, int(round(size / scale)) + 2)
    small = Image.fromarray(rng.uniform(-1, 1, (n, n)).astype(np.float32))
    return np.asarray(small.resize((size, size), Image.BICUBIC), dtype=np.float32)


def palette(rng, k):
    base = rng.uniform(0.1, 0.9, 3)
    cols = [np.clip(base + rng.normal(0, rng.uniform(0.03, 0.25), 3), 0.02, 0.98) for _ in range(k)]
    return np.array(cols, dtype=np.float32)


def thread_colours(rng, count, cols):
    """Per-thread colour index: solid, striped or a repeating sett (tartan-like)."""
    kind = rng.integers(3)
    if kind == 0 or len(cols) == 1:
        return np.zeros(count, dtype=np.int64)
    if kind == 1:
        width = rng.integers(2, 12)
        return (np.arange(count) // width) % len(cols)
    sett = np.concatenate([np.full(rng.integers(1, 9), rng.integers(len(cols))) for _ in range(rng.integers(3, 7))])
    return sett[np.arange(count) % len(sett)]


def woven(rng, u, v):
    pitch = rng.uniform(2.2, 9.0)
    weave = rng.choice(["plain", "twill", "satin", "basket"])
    i = np.floor(u / pitch).astype(np.int64)
    j = np.floor(v / pitch).astype(np.int64)
    fu, fv = u / pitch - i, v / pitch - j
    if weave == "plain":
        warp_up = (i + j) % 2 == 0
    elif weave == "basket":
        warp_up = (i // 2 + j // 2) % 2 == 0
    elif weave == "twill":
        r = int(rng.integers(3, 5))
        warp_up = (i + j) % r < (r + 1) // 2
    else:
        r = 5
        warp_up = (2 * i - j) % r != 0
    cols = palette(rng, int(rng.integers(1, 4)))
    wcols = cols if rng.random() < 0.5 else palette(rng, int(rng.integers(1, 4)))
    lo, hi = int(min(i.min(), j.min())) - 1, int(max(i.max(), j.max())) + 2
    warp_idx = thread_colours(rng, hi - lo, cols)
    weft_idx = thread_colours(rng, hi - lo, wcols)
    warp = cols[warp_idx[i - lo]]
    weft = wcols[weft_idx[j - lo]]
    # Yarn irregularity: each thread a little lighter or darker, with slubs along its length.
    jitter_warp = rng.normal(0, 0.06, hi - lo)[i - lo] + 0.05 * smooth_noise(rng, rng.uniform(6, 30))
    jitter_weft = rng.normal(0, 0.06, hi - lo)[j - lo] + 0.05 * smooth_noise(rng, rng.uniform(6, 30))
    # Rounded yarn cross-section: bright in the middle of the visible float, darker at the gaps.
    shade_warp = 0.55 + 0.45 * np.sin(np.pi * fu) ** 0.7
    shade_weft = 0.55 + 0.45 * np.sin(np.pi * fv) ** 0.7
    fibre = 0.04 * rng.normal(0, 1, u.shape).astype(np.float32)
    top = np.where(warp_up[..., None], warp * (shade_warp + jitter_warp)[..., None],
                   weft * (shade_weft + jitter_weft)[..., None])
    return top + fibre[..., None]


def knit(rng, u, v):
    pitch = rng.uniform(4, 12)
    cols = palette(rng, int(rng.integers(1, 3)))
    i = np.floor(u / pitch).astype(np.int64)
    row = np.floor(v / (pitch * 0.8)).astype(np.int64)
    fu, fv = u / pitch - i, v / (pitch * 0.8) - row
    # Each stitch is a V of two slanted loops.
    loop = np.abs((fu - 0.5) * 2 - (fv - 0.5) * np.sign(fu - 0.5) * 1.4)
    shade = 0.5 + 0.5 * np.clip(1 - loop, 0, 1) ** 0.8
    idx = thread_colours(rng, int(row.max() - row.min()) + 2, cols)[row - row.min()]
    return cols[idx] * shade[..., None] + 0.04 * rng.normal(0, 1, u.shape + (1,)).astype(np.float32)


def felt(rng, u, v):
    cols = palette(rng, 2)
    t = 0.5 + 0.35 * smooth_noise(rng, rng.uniform(10, 60)) + 0.15 * smooth_noise(rng, rng.uniform(2, 5))
    t = np.clip(t, 0, 1)[..., None]
    return cols[0] * t + cols[1] * (1 - t) + 0.06 * rng.normal(0, 1, u.shape + (1,)).astype(np.float32)


def add_defect(rng, img, u, v):
    kind = rng.choice(["hole", "stain", "broken", "thick"])
    cy, cx = rng.uniform(30, SIZE - 30, 2)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    if kind in ("hole", "stain"):
        r = rng.uniform(4, 25) if kind == "hole" else rng.uniform(10, 60)
        wobble = 1 + 0.3 * smooth_noise(rng, r / 2)
        d = np.hypot(yy - cy, xx - cx) / (r * wobble)
        m = np.clip(1.5 - d, 0, 1) if kind == "hole" else np.clip(1 - d, 0, 1) ** 0.5 * rng.uniform(0.3, 0.8)
        tint = np.array([0.05, 0.05, 0.05]) if kind == "hole" else rng.uniform(0.1, 0.6, 3)
        return img * (1 - m[..., None]) + tint.astype(np.float32) * m[..., None]
    along_u = rng.random() < 0.5
    coord = u if along_u else v
    c0 = rng.uniform(40, SIZE - 40)
    width = rng.uniform(1.0, 3.5)
    m = np.clip(1 - np.abs(coord - c0) / width, 0, 1)
    if kind == "broken":
        other = v if along_u else u
        start = rng.uniform(0, SIZE * 0.6)
        m = m * ((other > start) & (other < start + rng.uniform(30, 150)))
        return img * (1 - 0.6 * m[..., None])
    return img * (1 + 0.35 * m[..., None])


def make(rng):
    angle = math.radians(rng.normal(0, 4))
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    cx = SIZE / 2
    u = (xx - cx) * math.cos(angle) - (yy - cx) * math.sin(angle) + cx + rng.uniform(0, 20)
    v = (xx - cx) * math.sin(angle) + (yy - cx) * math.cos(angle) + cx + rng.uniform(0, 20)
    kind = rng.choice(["woven", "knit", "felt"], p=[0.7, 0.15, 0.15])
    img = {"woven": woven, "knit": knit, "felt": felt}[kind](rng, u, v)
    if rng.random() < 0.35:
        img = add_defect(rng, img, u, v)
    # Uneven lighting and exposure.
    light = 1 + rng.uniform(0, 0.25) * smooth_noise(rng, rng.uniform(80, 300))
    img = img * light[..., None] * rng.uniform(0.7, 1.2)
    img = img + rng.normal(0, rng.uniform(0.005, 0.02), img.shape)
    out = Image.fromarray((np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8))
    # A touch of lens blur on some images; none on others keeps the finest detail.
    blur = rng.uniform(0, 1.5)
    if blur > 0.4:
        out = out.filter(ImageFilter.GaussianBlur(blur - 0.4))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for k in range(args.count):
        rng = np.random.default_rng([args.seed, k])
        make(rng).save(os.path.join(args.out, f"fabric_{k:05d}.jpg"), quality=90, subsampling=2)
    print(f"wrote {args.count} images to {args.out}")


if __name__ == "__main__":
    main()
