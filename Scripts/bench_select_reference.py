#!/usr/bin/env python3
"""CPU time of one CEC selection step done the way a careful numpy +
scikit-learn user would, for comparison with the Swift engine.  Run by hand,
never in CI.

Setup (once; the reference venv of Scripts/make_fixtures.py plus sklearn):

    /work/refenv/bin/pip install scikit-learn scipy

Run (one size at a time; nothing else heavy on the machine):

    /work/refenv/bin/python Scripts/bench_select_reference.py \\
        --pool 20000 --dim 512 --classes 100 --budget 200 --threads 2

Prints one JSON line:

    {"reference": "numpy+sklearn", "pool": N, "dim": D, "classes": C,
     "budget": B, "seconds": total, "phases": {"probs", "knn", "scores",
     "kmeans", "query"}, "peak_rss_mb", "numpy", "sklearn", "blas", ...}

What is timed (float32 throughout; the pool is generated before the clock
starts and is not timed):

  probs   z = X/||X||, t = T/||T||, logits = 100 z t^T, max-subtracted
          softmax, H = -sum p log p (0 log 0 = 0)
  knn     exact kNN (k = 10) by cosine over the whole pool, blocked: for each
          block of rows, S = z_block @ z.T, np.argpartition for the top k+1,
          drop self (the row's own index; if a duplicate row pushed self out,
          the least similar of the k+1 is dropped instead)
  scores  support S_j = top-10 rows of p[:, j] (argpartition), union prior
          P = mean_{x in S} p(x), p_hat = (p/P) renormalised, H_hat,
          H_nn = (1/k) sum exp(-rho (2 - 2 cos)) H_hat(nbr) (rbf, rho = 1,
          ||z - z'||^2 = 2 - 2 cos on unit vectors), U = H_hat + beta H_nn
  kmeans  sklearn KMeans(n_clusters=budget, init="k-means++", n_init=1,
          max_iter=300, tol=1e-4, random_state=0).fit(z, sample_weight=U)
  query   for each centre the nearest row (squared Euclidean on z, blocked),
          centres in index order, a colliding centre takes its next-nearest
          untaken row

Round-1 setting: the labelled set is empty, so every row is scored.
Numbers on a shared machine are only indicative; the load average at start
is printed.  The thread count is set through OMP_NUM_THREADS /
OPENBLAS_NUM_THREADS / MKL_NUM_THREADS before numpy is imported and again
with threadpoolctl; OPENBLAS_CORETYPE (if set) is left as it is and
reported.
"""

import argparse
import os
import sys

ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
ap.add_argument("--pool", type=int, default=20000)
ap.add_argument("--dim", type=int, default=512)
ap.add_argument("--classes", type=int, default=100)
ap.add_argument("--budget", type=int, default=200)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--k", type=int, default=10)
ap.add_argument("--n-top", type=int, default=10)
ap.add_argument("--rho", type=float, default=1.0)
ap.add_argument("--beta", type=float, default=1.0)
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--save-pool", default=None, help="also write the pool as DIR/features.npy and DIR/text.npy (for `alvlm bench select --features --text`)")
ap.add_argument("--block-elements", type=int, default=1 << 25,
                help="kNN block size in similarity entries (default 2^25 = 128 MB float32)")
args = ap.parse_args()

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = str(args.threads)

import json
import platform
import resource
import time

import numpy as np
import sklearn
import threadpoolctl
from sklearn.cluster import KMeans

LOGIT_SCALE = np.float32(100.0)


def make_pool(n, d, c, seed):
    """CLIP-like random pool (float32).  Image = common direction + a small
    class component along the class's text direction (zero-shot p is unsure:
    mean entropy ~1.6 nats, ~75% top-1 for D 512, C 100) + a larger class
    "visual" component outside the text subspace (images cluster by class:
    mean cosine ~0.78 within a class, ~0.62 across) + isotropic noise, then an
    arbitrary row scale.  Text = class direction + noise + 0.3 * common.
    Generated in chunks so the peak memory stays near the N x D array."""
    rng = np.random.default_rng(seed)
    common = rng.standard_normal(d).astype(np.float32)
    common /= np.linalg.norm(common)
    centres = rng.standard_normal((c, d)).astype(np.float32)
    centres -= np.outer(centres @ common, common)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    if d > c + 1:
        q, _ = np.linalg.qr(np.concatenate([common[:, None], centres.T], axis=1), mode="complete")
        comp = q[:, c + 1:].T.astype(np.float32)
        visual = rng.standard_normal((c, comp.shape[0]), dtype=np.float32) @ comp
        visual /= np.linalg.norm(visual, axis=1, keepdims=True)
    else:
        visual = np.zeros((c, d), dtype=np.float32)
    text = centres + np.float32(0.3 / np.sqrt(d)) * rng.standard_normal((c, d), dtype=np.float32)
    text += np.float32(0.3) * common
    labels = rng.integers(0, c, size=n)
    x = np.empty((n, d), dtype=np.float32)
    step = 8192
    for a in range(0, n, step):
        b = min(n, a + step)
        x[a:b] = rng.standard_normal((b - a, d), dtype=np.float32) * np.float32(0.6 / np.sqrt(d))
        x[a:b] += common
        x[a:b] += np.float32(0.1) * centres[labels[a:b]]
        x[a:b] += np.float32(0.5) * visual[labels[a:b]]
        x[a:b] *= rng.uniform(1.0, 10.0, size=(b - a, 1)).astype(np.float32)
    return x, text.astype(np.float32)


def entropy(p):
    with np.errstate(divide="ignore", invalid="ignore"):
        lp = np.log(p)
    lp[p <= 0] = 0
    return -(p * lp).sum(axis=1)


def phase_probs(x, text):
    z = x / np.linalg.norm(x, axis=1, keepdims=True)
    t = text / np.linalg.norm(text, axis=1, keepdims=True)
    logits = z @ t.T
    logits *= LOGIT_SCALE
    logits -= logits.max(axis=1, keepdims=True)
    np.exp(logits, out=logits)
    logits /= logits.sum(axis=1, keepdims=True)
    p = logits
    return z, p, entropy(p)


def phase_knn(z, k, block_elements):
    n = z.shape[0]
    block = max(1, min(n, block_elements // n))
    nbr = np.empty((n, k), dtype=np.int64)
    nsim = np.empty((n, k), dtype=np.float32)
    rows_all = np.arange(n)
    for a in range(0, n, block):
        b = min(n, a + block)
        s = z[a:b] @ z.T                                        # (block, n)
        cand = np.argpartition(s, n - (k + 1), axis=1)[:, n - (k + 1):]   # top k+1, unordered
        rows = np.arange(b - a)[:, None]
        csim = s[rows, cand]
        csim[cand == rows_all[a:b, None]] = -np.inf             # drop self
        keep = np.argsort(-csim, axis=1)[:, :k]                 # k best of k+1
        nbr[a:b] = cand[rows, keep]
        nsim[a:b] = csim[rows, keep]
    return nbr, nsim


def phase_scores(p, nbr, nsim, n_top, rho, beta):
    n, c = p.shape
    support = np.argpartition(p, n - n_top, axis=0)[n - n_top:]   # (n_top, C)
    s = np.unique(support)
    prior = p[s].mean(axis=0)
    q = p / prior
    q /= q.sum(axis=1, keepdims=True)
    h_hat = entropy(q)
    d2 = np.maximum(np.float32(2) - np.float32(2) * nsim, np.float32(0))
    kappa = np.exp(np.float32(-rho) * d2)
    h_nn = (kappa * h_hat[nbr]).sum(axis=1) / np.float32(nbr.shape[1])
    return h_hat + np.float32(beta) * h_nn


def phase_kmeans(z, u, budget, seed):
    km = KMeans(n_clusters=budget, init="k-means++", n_init=1, max_iter=300, tol=1e-4,
                random_state=seed)
    km.fit(z, sample_weight=u)
    return km


def phase_query(z, centres, block_elements):
    n, b = z.shape[0], centres.shape[0]
    c = centres.astype(np.float32)
    cn = (c * c).sum(axis=1)
    zn = (z * z).sum(axis=1)
    d = np.empty((n, b), dtype=np.float32)
    block = max(1, min(n, block_elements // max(b, 1)))
    for a in range(0, n, block):
        e = min(n, a + block)
        d[a:e] = zn[a:e, None] - 2 * (z[a:e] @ c.T) + cn[None, :]
    first = d.argmin(axis=0)
    taken, picks, collisions = set(), [], 0
    for j in range(b):
        i = int(first[j])
        if i in taken:
            collisions += 1
            for i in np.argsort(d[:, j], kind="stable"):
                if int(i) not in taken:
                    break
            i = int(i)
        taken.add(i)
        picks.append(i)
    return picks, collisions


def main():
    tp_limit = threadpoolctl.threadpool_limits(limits=args.threads)
    load = os.getloadavg()
    x, text = make_pool(args.pool, args.dim, args.classes, args.seed)
    if args.save_pool:
        os.makedirs(args.save_pool, exist_ok=True)
        np.save(os.path.join(args.save_pool, "features.npy"), x)
        np.save(os.path.join(args.save_pool, "text.npy"), text)
    rss_after_pool = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    phases = {}
    t0 = time.perf_counter()
    z, p, h = phase_probs(x, text)
    t1 = time.perf_counter()
    phases["probs"] = t1 - t0
    nbr, nsim = phase_knn(z, args.k, args.block_elements)
    t2 = time.perf_counter()
    phases["knn"] = t2 - t1
    u = phase_scores(p, nbr, nsim, args.n_top, args.rho, args.beta)
    t3 = time.perf_counter()
    phases["scores"] = t3 - t2
    km = phase_kmeans(z, u, args.budget, args.seed)
    t4 = time.perf_counter()
    phases["kmeans"] = t4 - t3
    picks, collisions = phase_query(z, km.cluster_centers_, args.block_elements)
    t5 = time.perf_counter()
    phases["query"] = t5 - t4
    assert len(set(picks)) == args.budget

    blas = [dict({k: v for k, v in info.items() if k in ("user_api", "internal_api", "version",
                                                         "num_threads", "architecture", "threading_layer")},
                 library=os.path.basename(info.get("filepath", "")))
            for info in threadpoolctl.threadpool_info()]
    print(json.dumps({
        "reference": "numpy+sklearn",
        "pool": args.pool, "dim": args.dim, "classes": args.classes, "budget": args.budget,
        "threads": args.threads, "k": args.k, "n_top": args.n_top,
        "seconds": round(t5 - t0, 4),
        "phases": {k: round(v, 4) for k, v in phases.items()},
        "kmeans_iterations": int(km.n_iter_),
        "pool_mean_entropy": round(float(h.mean()), 4),
        "mean_U": round(float(u.mean()), 4),
        "query_collisions": collisions,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rss_after_pool_mb": round(rss_after_pool, 1),
        "numpy": np.__version__, "sklearn": sklearn.__version__,
        "python": platform.python_version(),
        "blas": blas,
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "load_average_start": [round(v, 2) for v in load],
    }))
    del tp_limit


if __name__ == "__main__":
    sys.exit(main())
