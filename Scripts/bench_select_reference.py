#!/usr/bin/env python3
"""CPU time of one CEC selection step done the way a careful numpy +
scikit-learn user would, for comparison with the Swift engine.  Run by hand,
never in CI.

Setup (once): a venv with numpy, scikit-learn, threadpoolctl and faiss-cpu,

    python3 -m venv /work/selectenv
    /work/selectenv/bin/pip install numpy scipy scikit-learn threadpoolctl faiss-cpu

(faiss-cpu is only needed for --library faiss.)  faiss-cpu's wheel carries its
own OpenBLAS, which may not recognise the CPU and fall back to a slow generic
kernel (threadpoolctl's "architecture" in the output says which); set
OPENBLAS_CORETYPE (e.g. SkylakeX) to the CPU's kernel if so.

Run (one size at a time; nothing else heavy on the machine):

    OPENBLAS_CORETYPE=SkylakeX /work/selectenv/bin/python \\
        Scripts/bench_select_reference.py \\
        --pool 20000 --dim 512 --classes 100 --budget 200 --threads 2 \\
        [--library faiss --knn exact|ivf|hnsw]

Prints one JSON line:

    {"reference": "numpy+sklearn" or "numpy+faiss", "pool": N, "dim": D,
     "classes": C, "budget": B, "seconds": total, "phases": {"probs", "knn",
     "scores", "kmeans", "query"}, "phase_peak_rss_mb": {...}, "kmeans_cost",
     "peak_rss_mb", "numpy", "sklearn", "blas", ...}

plus, with --library faiss, "faiss" (version, the kNN index's parameters,
its recall and its seconds split into build / tune / search, the k-means
settings).  "phase_peak_rss_mb" is the process's peak RSS at the end of each
phase, so a phase's own peak shows only where it raises the running peak.

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

kmeans_cost = sum_i U_i ||z_i - nearest centre||^2 over the whole pool, the
objective both libraries minimise, computed the same way (blocked numpy, in
float64 at the end) for both after the clock stops.

With --library faiss (the probs and scores phases are the same code):

  knn     --knn exact: faiss.IndexFlatIP over z, k+1 neighbours, self dropped
          by the rule above; --knn ivf: faiss.IndexIVFFlat, inner product,
          nlist = max(1, min(N/16, round(4 sqrt N))) as in the Swift engine,
          coarse centres trained on a random sample of 32 * nlist rows
          (--ivf-train-per-list; 0 = all rows, which faiss itself subsamples
          to 256 per list; faiss prints a warning below 39 per list);
          --knn hnsw: faiss.IndexHNSWFlat, M = 32 (--hnsw-m), inner product,
          efConstruction 40 (faiss's default; --hnsw-ef-construction).
          nprobe / efSearch is the smallest of 1, 2, 3, 4, 6, 8, 12, 16, ...
          (efSearch from 16, up to 4096) whose recall@k on 500 sampled rows
          (--recall-queries) against brute-force exact neighbours of those
          rows is >= --recall (0.99).  A neighbour slot faiss leaves empty
          (-1) gets weight 0 in H_nn.
  kmeans  faiss.Kmeans(D, budget, niter=--kmeans-iter (20), seed, spherical=
          False, max_points_per_centroid=N so every row is used, faiss's
          random initial centres unless --kmeans-init kmeans++)
          .train(z, weights=U); faiss stops before niter when its objective
          (the unweighted sum of distances) is unchanged
  query   the same rule as above; each centre's nearest rows come from
          faiss.knn (brute-force L2 over z, no index copy), more of them only
          when collisions use up the first ones

Round-1 setting: the labelled set is empty, so every row is scored.
Numbers on a shared machine are only indicative; the load average at start
is printed.  The thread count is set through OMP_NUM_THREADS /
OPENBLAS_NUM_THREADS / MKL_NUM_THREADS before numpy is imported and again
with threadpoolctl; OPENBLAS_CORETYPE (if set) is left as it is and
reported.  With --library faiss the thread count is also set with
faiss.omp_set_num_threads.
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
ap.add_argument("--library", choices=("sklearn", "faiss"), default="sklearn")
ap.add_argument("--knn", choices=("exact", "ivf", "hnsw"), default="exact", help="faiss only")
ap.add_argument("--recall", type=float, default=0.99, help="faiss ivf/hnsw: recall@k target on sampled rows")
ap.add_argument("--recall-queries", type=int, default=500, help="faiss ivf/hnsw: sampled rows for the recall")
ap.add_argument("--ivf-train-per-list", type=int, default=32,
                help="faiss ivf: train the coarse centres on this many sampled rows per list (0 = all rows)")
ap.add_argument("--hnsw-m", type=int, default=32, help="faiss hnsw: M")
ap.add_argument("--hnsw-ef-construction", type=int, default=40, help="faiss hnsw: efConstruction (faiss's default 40)")
ap.add_argument("--kmeans-iter", type=int, default=20, help="faiss k-means iterations")
ap.add_argument("--kmeans-init", choices=("random", "kmeans++"), default="random", help="faiss k-means initial centres")
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

if args.library == "faiss":
    # imported before threadpool_limits so that faiss's own OpenBLAS is limited too
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import bench_select_faiss as fx

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


def kmeans_cost(z, u, centres, block_elements):
    """sum_i u_i ||z_i - nearest centre||^2 over the whole pool (blocked)."""
    c = centres.astype(np.float32)
    cn = (c * c).sum(axis=1)
    block = max(1, min(z.shape[0], block_elements // max(c.shape[0], 1)))
    total = 0.0
    for a in range(0, z.shape[0], block):
        zb = z[a:a + block]
        d = ((zb * zb).sum(axis=1)[:, None] - 2 * (zb @ c.T) + cn[None, :]).min(axis=1)
        total += float(np.dot(u[a:a + block].astype(np.float64), np.maximum(d, 0).astype(np.float64)))
    return total


def main():
    if args.library == "faiss":
        faiss_info = fx.setup(args.threads)
    tp_limit = threadpoolctl.threadpool_limits(limits=args.threads)
    load = os.getloadavg()
    x, text = make_pool(args.pool, args.dim, args.classes, args.seed)
    if args.save_pool:
        os.makedirs(args.save_pool, exist_ok=True)
        np.save(os.path.join(args.save_pool, "features.npy"), x)
        np.save(os.path.join(args.save_pool, "text.npy"), text)
    rss_after_pool = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    phases, phase_rss = {}, {}
    clock = [time.perf_counter()]

    def done(name):
        now = time.perf_counter()
        phases[name] = now - clock[0]
        phase_rss[name] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        clock[0] = now

    t0 = clock[0]
    z, p, h = phase_probs(x, text)
    done("probs")
    if args.library == "faiss":
        nbr, nsim, knn_info = fx.phase_knn(z, args.k, args)
    else:
        nbr, nsim = phase_knn(z, args.k, args.block_elements)
    done("knn")
    u = phase_scores(p, nbr, nsim, args.n_top, args.rho, args.beta)
    done("scores")
    if args.library == "faiss":
        centres, km_info = fx.phase_kmeans(z, u, args.budget, args)
    else:
        km = phase_kmeans(z, u, args.budget, args.seed)
        centres = km.cluster_centers_
    done("kmeans")
    if args.library == "faiss":
        picks, collisions = fx.phase_query(z, centres)
    else:
        picks, collisions = phase_query(z, centres, args.block_elements)
    done("query")
    t5 = clock[0]
    assert len(set(picks)) == args.budget

    cost = kmeans_cost(z, u, centres, args.block_elements)     # untimed
    extra = {"kmeans_iterations": int(km.n_iter_)} if args.library == "sklearn" else {}
    if args.library == "faiss":
        knn_info["recall_check"] = fx.recall_check(z, nbr, args.k, knn_info.pop("queries"))   # untimed
        faiss_info.update(knn=knn_info, kmeans=km_info)
        extra["faiss"] = faiss_info

    blas = [dict({k: v for k, v in info.items() if k in ("user_api", "internal_api", "version",
                                                         "num_threads", "architecture", "threading_layer")},
                 library=os.path.basename(info.get("filepath", "")))
            for info in threadpoolctl.threadpool_info()]
    print(json.dumps(dict({
        "reference": "numpy+" + args.library,
        "pool": args.pool, "dim": args.dim, "classes": args.classes, "budget": args.budget,
        "threads": args.threads, "k": args.k, "n_top": args.n_top,
        "seconds": round(t5 - t0, 4),
        "phases": {k: round(v, 4) for k, v in phases.items()},
        "phase_peak_rss_mb": phase_rss,
        "kmeans_cost": round(cost, 4),
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
    }, **extra)))
    del tp_limit


if __name__ == "__main__":
    sys.exit(main())
