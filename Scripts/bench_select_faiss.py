"""The faiss phases of Scripts/bench_select_reference.py (--library faiss):
kNN by an exact, IVF or HNSW index, weighted k-means by faiss.Kmeans, and the
query rule through faiss's brute-force search.  Imported by that script, not
run on its own; see its docstring for what is timed."""

import time

import faiss
import numpy as np


def setup(threads):
    faiss.omp_set_num_threads(threads)
    return {"version": faiss.__version__, "compile_options": faiss.get_compile_options().strip(),
            "omp_threads": faiss.omp_get_max_threads()}


def drop_self(ids, sims, rows=None):
    """(n, k+1) results best first for the given rows (default all) -> (n, k):
    drop the row's own index, or the last (least similar) result when the row
    is not among them."""
    n, k1 = ids.shape
    mask = ids == (np.arange(n) if rows is None else np.asarray(rows))[:, None]
    mask[~mask.any(axis=1), k1 - 1] = True
    mask &= np.cumsum(mask, axis=1) == 1          # one drop per row, even with repeated ids
    keep = ~mask
    return ids[keep].reshape(n, k1 - 1), sims[keep].reshape(n, k1 - 1)


def exact_neighbours(z, rows, k, block_elements=1 << 25):
    """Brute-force top-k (self dropped, same rule) of the given rows, as sets; blocked like the numpy kNN."""
    n = z.shape[0]
    rows = np.asarray(rows)
    out = []
    step = max(1, block_elements // n)
    for a in range(0, len(rows), step):
        rb = rows[a:a + step]
        s = z[rb] @ z.T
        cand = np.argpartition(s, n - (k + 1), axis=1)[:, n - (k + 1):]
        r = np.arange(len(rb))[:, None]
        csim = s[r, cand]
        csim[cand == rb[:, None]] = -np.inf
        keep = np.argsort(-csim, axis=1)[:, :k]
        out += [set(map(int, c)) for c in cand[r, keep]]
    return out


def recall(found, truth):
    k = len(truth[0])
    return sum(len(truth[i] & set(map(int, found[i]))) for i in range(len(truth))) / (k * len(truth))


def recall_check(z, nbr, k, queries):
    """Recall@k of the kNN phase's result on the sampled rows (after the clock)."""
    rng = np.random.default_rng(12345)
    rows = queries if queries is not None else np.sort(rng.choice(z.shape[0], min(500, z.shape[0]), replace=False))
    return round(recall(nbr[rows], exact_neighbours(z, rows, k)), 5)


def candidates(start, stop):
    """start, then 1, 2, 3, 4, 6, 8, 12, 16, 24, ... (powers of two and 1.5x them) in [start, stop], then stop."""
    seq, v = [], 1
    while v < stop:
        for c in (v, v + v // 2):
            if start <= c < stop and c not in seq:
                seq.append(c)
        v *= 2
    return seq + [stop]


def tune(index, set_param, values, target, z, rows, truth, k):
    """The smallest value whose recall@k on the sampled rows reaches the target; every trial is reported."""
    trials = []
    for v in values:
        set_param(v)
        _, ids = index.search(z[rows], k + 1)
        r = recall(drop_self(ids, np.zeros(ids.shape, np.float32), rows)[0], truth)
        trials.append([v, round(r, 5)])
        if r >= target:
            break
    return trials[-1][0], trials


def phase_knn(z, k, args):
    n, d = z.shape
    info = {"method": args.knn, "metric": "inner_product"}
    t0 = time.perf_counter()
    rows, truth = None, None
    if args.knn == "exact":
        index = faiss.IndexFlatIP(d)
        index.add(z)
        t1 = t2 = time.perf_counter()
    else:
        rng = np.random.default_rng(args.seed + 1)
        if args.knn == "ivf":
            nlist = max(1, min(n // 16, int(round(4 * np.sqrt(n)))))
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
            m = n if args.ivf_train_per_list <= 0 else min(n, args.ivf_train_per_list * nlist)
            sample = np.sort(rng.choice(n, m, replace=False)) if m < n else np.arange(n)
            index.train(z[sample])
            index.add(z)
            info.update(nlist=nlist, train_rows=int(m), train_niter=index.cp.niter,
                        train_spherical=bool(index.cp.spherical),
                        train_max_points_per_centroid=index.cp.max_points_per_centroid)
            values = candidates(1, nlist)

            def set_param(v):
                index.nprobe = v
        else:
            index = faiss.IndexHNSWFlat(d, args.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = args.hnsw_ef_construction
            index.add(z)
            info.update(M=args.hnsw_m, efConstruction=index.hnsw.efConstruction)
            values = candidates(16, 4096)

            def set_param(v):
                index.hnsw.efSearch = v
        t1 = time.perf_counter()
        rows = np.sort(rng.choice(n, min(n, args.recall_queries), replace=False))
        truth = exact_neighbours(z, rows, k)
        info["truth_seconds"] = round(time.perf_counter() - t1, 4)
        value, trials = tune(index, set_param, values, args.recall, z, rows, truth, k)
        set_param(value)
        info.update({("nprobe" if args.knn == "ivf" else "efSearch"): value, "tuning": trials,
                     "recall_target": args.recall, "recall_queries": len(rows)})
        t2 = time.perf_counter()
    sims, ids = index.search(z, k + 1)
    nbr, nsim = drop_self(ids, sims)
    missing = nbr < 0
    nbr[missing] = np.nonzero(missing)[0]          # any valid row; its weight is 0
    nsim[missing] = -np.inf
    t3 = time.perf_counter()
    if truth is not None:
        info["recall"] = round(recall(nbr[rows], truth), 5)
    info.update(seconds={"build": round(t1 - t0, 4), "tune": round(t2 - t1, 4), "search": round(t3 - t2, 4)},
                missing=int(missing.sum()), queries=rows)
    del index
    return nbr, nsim, info


def phase_kmeans(z, u, budget, args):
    n, d = z.shape
    init = faiss.ClusteringInitMethod_RANDOM if args.kmeans_init == "random" else \
        faiss.ClusteringInitMethod_KMEANS_PLUS_PLUS
    km = faiss.Kmeans(d, budget, niter=args.kmeans_iter, seed=args.seed, spherical=False,
                      max_points_per_centroid=n, init_method=init)
    km.train(z, weights=np.ascontiguousarray(u, dtype=np.float32))
    return km.centroids, {"niter": args.kmeans_iter, "iterations_run": len(km.obj),
                          "init": args.kmeans_init, "max_points_per_centroid": n,
                          "faiss_objective_first_last": [float(km.obj[0]), float(km.obj[-1])],
                          "empty_cluster_splits": int(sum(s["nsplit"] for s in km.iteration_stats))}


def phase_query(z, centres):
    """Nearest row per centre in centre order; a colliding centre takes its next-nearest untaken row."""
    b = centres.shape[0]
    c = np.ascontiguousarray(centres, dtype=np.float32)
    kq = min(z.shape[0], 8)
    _, near = faiss.knn(c, z, kq)
    taken, picks, collisions = set(), [], 0
    for j in range(b):
        row, depth = near[j], kq
        if int(row[0]) in taken:
            collisions += 1
        while True:
            free = [int(i) for i in row if int(i) not in taken]
            if free or depth >= z.shape[0]:
                break
            depth = min(z.shape[0], depth * 4)
            row = faiss.knn(c[j:j + 1], z, depth)[1][0]
        taken.add(free[0])
        picks.append(free[0])
    return picks, collisions
