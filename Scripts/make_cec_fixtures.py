#!/usr/bin/env python3
"""Generate the CEC selection reference fixtures in Tests/Fixtures/cec/ with
plain numpy (float64) and scikit-learn's KMeans.

This script is run by hand, never in CI.  The Swift tests only read what it
wrote; the fixtures are committed.  Re-running it with the same package
versions reproduces every file byte for byte (fixed seeds, one thread).  Do
not edit the fixtures by hand.

Setup (once; the reference venv of Scripts/make_fixtures.py plus sklearn):

    /work/refenv/bin/pip install scikit-learn scipy

Run (from anywhere):

    /work/refenv/bin/python Scripts/make_cec_fixtures.py

Definition implemented (docs: /work/shared/reference/METHOD.md sections 2-4;
the exact choices are also written to cec/meta.json and cec/README.md):

  * Inputs: X (N x D, arbitrary scale), T (C x D), logit scale s = 100, a
    labelled id set L (row indices).  Only U = all \\ L is scored; support
    sets, neighbours and the selection come from U only.
  * z = X/||X||, t = T/||T|| (rows); p = softmax(s z t^T) (max-subtracted).
  * H = -sum_c p log p (natural log, 0 log 0 = 0).
  * S_j = the N_top = 10 unlabelled rows with the largest p[:, j] (ties: the
    smaller row index first); S = union of the S_j (duplicates removed).
  * Prior "union" (default): P = mean_{x in S} p(x) (C-vector).
    Prior "per-class": P(j) = mean_{x in S_j} p(x, j).
  * p_hat = (p / P) renormalised per row; H_hat = entropy(p_hat).
    "Calibration off": p_hat = p (P uniform), so H_hat = H.
  * kNN: the k = 10 nearest OTHER unlabelled rows by cosine z.z' (largest
    first; ties: smaller row index), self excluded.
  * kappa: "rbf" (default) exp(-rho ||z - z_i||^2), rho = 1; "cosine" z.z_i;
    "uniform" 1.
  * H_nn = (1/k) sum_{i in kNN} kappa_i H_hat(i);  U = H_hat + beta H_nn.
  * Selection: sklearn KMeans(n_clusters=B, init="k-means++", n_init=1,
    max_iter=300, tol=1e-4, random_state=seed) on z[U] with
    sample_weight = U; then, centres in index order, each takes the nearest
    (Euclidean on z) unlabelled row not yet taken (ties: smaller row index).

What it writes (all .npy: numpy format 1.0, little-endian, C order):

  cec/features.npy          (300,32) float32 image features, NOT normalised
  cec/text.npy              (6,32)  float32 class text features, not normalised
  cec/labeled.txt           the 20 labelled row ids, one per line
  cec/classes.txt           the generating class of every row (-1 = outlier);
                            informative only, no CEC quantity uses it
  cec/meta.json             settings, counts, histograms, versions
  cec/scores_<cfg>.npy      (300,4) float64: H, H_hat, H_nn, U per row
                            (labelled rows: NaN), cfg in
                            default | perclass | cosine | uniform | beta0 | nocal
  cec/knn.npy               (300,10) int32 neighbour row ids, nearest first
                            (labelled rows: -1)
  cec/kmeans_default.json   inertia and selected ids for seeds 0..9 (default
                            configuration) + one fixed-initialisation Lloyd run
                            and a de-duplication example
  cec/baselines.json        entropy / margin / least-confidence / CoreSet picks
                            and an explicit BADGE gradient-distance matrix
  cec/README.md
"""

import os

# One thread everywhere (sklearn's Lloyd uses OpenMP, numpy uses BLAS):
# fixed reduction order -> byte-identical outputs run to run.
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import json
import platform
import sys
from pathlib import Path

import numpy as np
import scipy
import sklearn
import threadpoolctl
from sklearn.cluster import KMeans

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "Tests" / "Fixtures" / "cec"

# ---------------------------------------------------------------------------
# settings
# ---------------------------------------------------------------------------

N, D, C = 300, 32, 6
LOGIT_SCALE = 100.0
N_TOP = 10            # support size per class (prior)
K = 10                # neighbours
RHO = 1.0             # rbf kernel
BETA = 1.0
BUDGET = 8
N_LABELED = 20
KMEANS_SEEDS = list(range(10))
KMEANS_KW = dict(init="k-means++", n_init=1, max_iter=300, tol=1e-4)
BADGE_ROWS = 5

# Chosen from seeds 20250101..20250140 as one where every ranking decision
# (10th vs 11th support member, 10th vs 11th neighbour) has a margin that
# float32 arithmetic cannot flip (see meta.json "tie_margins"), with a
# clearly visible zero-shot skew that calibration reduces.
DATA_SEED = 20250114
# Long-tailed class mix (290 rows) + 10 outliers = 300.
COUNTS = [105, 70, 45, 30, 22, 18]
N_OUTLIERS = 10
# Per-class spread (relative noise level of each class).
SPREADS = [0.55, 0.80, 0.65, 1.00, 0.75, 0.90]
CLASS_STRENGTH = 0.045     # text-relevant class component (small: p is unsure)
TEXT_SPACE_NOISE = 0.08    # noise norm in the full space, times the spread
VISUAL_STRENGTH = 0.6      # class "visual" component outside the text subspace
VISUAL_NOISE = 0.5         # noise norm outside the text subspace, times the spread
BIASED_CLASS = 3
TEXT_BIAS = 0.06
TEXT_NOISE = 0.1

CONFIGS = [
    # name, prior, kernel, beta, calibrate
    ("default", "union", "rbf", BETA, True),
    ("perclass", "per-class", "rbf", BETA, True),
    ("cosine", "union", "cosine", BETA, True),
    ("uniform", "union", "uniform", BETA, True),
    ("beta0", "union", "rbf", 0.0, True),
    ("nocal", "union", "rbf", BETA, False),
]


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def to_json(obj, indent=0):
    """Indented JSON with lists of scalars on one line (readable diffs)."""
    pad, inner = " " * indent, " " * (indent + 1)
    if isinstance(obj, dict) and obj:
        items = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {to_json(v, indent + 1)}"
                 for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list) and any(isinstance(v, (list, dict)) for v in obj):
        return "[\n" + ",\n".join(inner + to_json(v, indent + 1) for v in obj) + "\n" + pad + "]"
    return json.dumps(obj, ensure_ascii=False, separators=(", ", ": "))


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        f.write(to_json(obj) + "\n")


def l2norm_rows(a):
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def softmax_rows(logits):
    m = logits.max(axis=1, keepdims=True)
    e = np.exp(logits - m)
    return e / e.sum(axis=1, keepdims=True)


def entropy_rows(p):
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    return -t.sum(axis=1)


def top_ids(values, ids, n, largest=True):
    """The n ids with the largest (or smallest) values; ties: smaller id."""
    values = np.asarray(values, dtype=np.float64)
    ids = np.asarray(ids)
    key = -values if largest else values
    order = np.lexsort((ids, key))          # primary key last
    return ids[order[:n]]


def histogram(pred, n):
    return np.bincount(pred, minlength=n).tolist()


# ---------------------------------------------------------------------------
# pool
# ---------------------------------------------------------------------------

def make_pool():
    """Images = common direction + a small text-relevant class component
    (so zero-shot p is uncertain and confusable, as in CLIP) + a larger
    class-specific "visual" component and noise in the complement of the
    text subspace (so images still cluster by class).  Text = class direction
    + noise + a little of the common direction; the biased class leans
    further towards the common direction, so p over-predicts it."""
    rng = np.random.default_rng(DATA_SEED)
    common = l2norm_rows(rng.standard_normal((1, D)))[0]
    mus = rng.standard_normal((C, D))
    mus -= np.outer(mus @ common, common)
    mus = l2norm_rows(mus)
    # Orthonormal basis of the complement of span(common, mus).
    q, _ = np.linalg.qr(np.concatenate([common[:, None], mus.T], axis=1), mode="complete")
    comp = q[:, C + 1:].T                                    # (D - C - 1, D)
    vis = l2norm_rows(rng.standard_normal((C, comp.shape[0]))) @ comp
    rows, classes = [], []
    for j, (n, sd) in enumerate(zip(COUNTS, SPREADS)):
        text_noise = rng.standard_normal((n, D)) * (sd * TEXT_SPACE_NOISE / np.sqrt(D))
        vis_noise = (rng.standard_normal((n, comp.shape[0])) @ comp) * (sd * VISUAL_NOISE / np.sqrt(comp.shape[0]))
        rows.append(common + CLASS_STRENGTH * mus[j] + VISUAL_STRENGTH * vis[j] + text_noise + vis_noise)
        classes += [j] * n
    # Outliers: random directions with the common component removed, so they
    # are far (cosine ~0) from every class and from each other.
    out = rng.standard_normal((N_OUTLIERS, D))
    out -= np.outer(out @ common, common)
    rows.append(l2norm_rows(out))
    classes += [-1] * N_OUTLIERS
    x = np.concatenate(rows)
    classes = np.array(classes)
    # Shuffle rows, then give every row an arbitrary scale (norms 0.5..20).
    perm = rng.permutation(N)
    x, classes = x[perm], classes[perm]
    x *= rng.uniform(0.5, 20.0, size=(N, 1)) / np.linalg.norm(x, axis=1, keepdims=True)
    t = mus + rng.standard_normal((C, D)) * (TEXT_NOISE / np.sqrt(D)) + 0.3 * common
    t[BIASED_CLASS] += TEXT_BIAS * common * np.linalg.norm(t[BIASED_CLASS])
    t *= rng.uniform(0.5, 3.0, size=(C, 1))
    # Labelled set: 20 fixed ids, none of them an outlier.
    inliers = np.flatnonzero(classes >= 0)
    labeled = np.sort(rng.choice(inliers, N_LABELED, replace=False))
    return x.astype(np.float32), t.astype(np.float32), classes, labeled


# ---------------------------------------------------------------------------
# CEC reference (float64)
# ---------------------------------------------------------------------------

def probabilities(x32, t32):
    z = l2norm_rows(x32.astype(np.float64))
    t = l2norm_rows(t32.astype(np.float64))
    p = softmax_rows(LOGIT_SCALE * (z @ t.T))
    return z, p


def support_sets(p, unl):
    return [top_ids(p[unl, j], unl, N_TOP) for j in range(C)]


def prior(p, unl, kind):
    sj = support_sets(p, unl)
    if kind == "union":
        s = np.unique(np.concatenate(sj))
        return p[s].mean(axis=0), sj, s
    if kind == "per-class":
        return np.array([p[sj[j], j].mean() for j in range(C)]), sj, None
    raise ValueError(kind)


def calibrate(p, P):
    q = p / P[None, :]
    return q / q.sum(axis=1, keepdims=True)


def knn(z, unl, k):
    """(len(unl), k) global row ids, most similar first, ties -> smaller id."""
    zu = z[unl]
    sims = zu @ zu.T
    res = np.empty((len(unl), k), dtype=np.int64)
    for a in range(len(unl)):
        mask = np.arange(len(unl)) != a
        res[a] = top_ids(sims[a, mask], unl[mask], k)
    return res


def kernel(z, rows, nbrs, kind):
    if kind == "rbf":
        d2 = ((z[rows][:, None, :] - z[nbrs]) ** 2).sum(axis=2)
        return np.exp(-RHO * d2)
    if kind == "cosine":
        return np.einsum("ad,akd->ak", z[rows], z[nbrs])
    if kind == "uniform":
        return np.ones(nbrs.shape)
    raise ValueError(kind)


def cec_scores(z, p, unl, nbrs, prior_kind, kernel_kind, beta, calibrate_on):
    H = entropy_rows(p)
    if calibrate_on:
        P, _, _ = prior(p, unl, prior_kind)
        H_hat = entropy_rows(calibrate(p, P))
    else:
        P = np.full(C, 1.0 / C)
        H_hat = H.copy()
    kap = kernel(z, unl, nbrs, kernel_kind)
    H_nn = np.full(N, np.nan)
    H_nn[unl] = (kap * H_hat[nbrs]).sum(axis=1) / K
    U = H_hat + beta * H_nn
    out = np.full((N, 4), np.nan)
    out[unl] = np.stack([H[unl], H_hat[unl], H_nn[unl], U[unl]], axis=1)
    return out, P


def nearest_distinct(z, unl, centres):
    """Centres in index order; each takes its nearest untaken row."""
    zu = z[unl]
    d2 = ((zu[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)   # (|U|, B)
    taken, picks, collisions = set(), [], 0
    for c in range(centres.shape[0]):
        order = np.lexsort((unl, d2[:, c]))
        first = True
        for i in order:
            if int(unl[i]) not in taken:
                picks.append(int(unl[i]))
                taken.add(int(unl[i]))
                break
            if first:
                collisions += 1
                first = False
    return picks, collisions


def weighted_kmeans(z, unl, w, seed, init=None):
    kw = dict(KMEANS_KW)
    if init is not None:
        kw["init"] = init
    km = KMeans(n_clusters=BUDGET, random_state=seed, **kw)
    km.fit(z[unl], sample_weight=w)
    # inertia_ must be the weighted objective sum_i w_i ||z_i - mu_c(i)||^2.
    manual = float((w * ((z[unl] - km.cluster_centers_[km.labels_]) ** 2).sum(axis=1)).sum())
    assert abs(manual - km.inertia_) <= 1e-9 * max(1.0, manual), (manual, km.inertia_)
    return km, manual


# ---------------------------------------------------------------------------
# baselines
# ---------------------------------------------------------------------------

def coreset(z, lab, unl, b):
    dist = np.sqrt(((z[unl][:, None, :] - z[lab][None, :, :]) ** 2).sum(axis=2)).min(axis=1)
    picks = []
    for _ in range(b):
        i = int(top_ids(dist, np.arange(len(unl)), 1)[0])   # argmax, ties -> smaller id
        picks.append(int(unl[i]))
        dist = np.minimum(dist, np.sqrt(((z[unl] - z[unl[i]]) ** 2).sum(axis=1)))
    return picks


def badge_explicit(z, p, rows):
    r = np.eye(C)[p[rows].argmax(axis=1)] - p[rows]
    g = np.stack([np.kron(r[a], z[rows[a]]) for a in range(len(rows))])   # (5, C*D)
    dist = ((g[:, None, :] - g[None, :, :]) ** 2).sum(axis=2)
    # factorised form, for a self-check only
    rr, zz = r @ r.T, z[rows] @ z[rows].T
    nr = np.diag(rr) * np.diag(zz)
    fact = nr[:, None] + nr[None, :] - 2 * zz * rr
    assert np.allclose(dist, fact, atol=1e-12), np.abs(dist - fact).max()
    return dist, r


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------

def main():
    OUT.mkdir(parents=True, exist_ok=True)
    x32, t32, classes, labeled = make_pool()
    np.save(OUT / "features.npy", x32)
    np.save(OUT / "text.npy", t32)
    (OUT / "labeled.txt").write_text("".join(f"{i}\n" for i in labeled))
    (OUT / "classes.txt").write_text("".join(f"{c}\n" for c in classes))

    # Everything below starts from the float32 values as saved.
    z, p = probabilities(x32, t32)
    is_lab = np.zeros(N, bool)
    is_lab[labeled] = True
    unl = np.flatnonzero(~is_lab)

    nb = knn(z, unl, K)
    knn_full = np.full((N, K), -1, dtype=np.int32)
    knn_full[unl] = nb
    np.save(OUT / "knn.npy", knn_full)

    P_union, sj, s_union = prior(p, unl, "union")
    P_perclass, _, _ = prior(p, unl, "per-class")
    p_hat = calibrate(p, P_union)

    cfg_meta, scores = {}, {}
    for name, prior_kind, kernel_kind, beta, cal in CONFIGS:
        sc, P = cec_scores(z, p, unl, nb, prior_kind, kernel_kind, beta, cal)
        np.save(OUT / f"scores_{name}.npy", sc)
        scores[name] = sc
        cfg_meta[name] = dict(file=f"scores_{name}.npy", prior=prior_kind if cal else "off (uniform)",
                              kernel=kernel_kind, rho=RHO if kernel_kind == "rbf" else None,
                              beta=beta, calibration=cal, prior_vector=P.tolist(),
                              top8_by_U=top_ids(sc[unl, 3], unl, BUDGET).tolist())

    # Weighted k-means, default configuration.
    w = scores["default"][unl, 3]
    runs = []
    for seed in KMEANS_SEEDS:
        km, inertia = weighted_kmeans(z, unl, w, seed)
        picks, coll = nearest_distinct(z, unl, km.cluster_centers_)
        runs.append(dict(seed=seed, inertia=inertia, n_iter=int(km.n_iter_),
                         selected=picks, collisions=coll))
    inertias = [r["inertia"] for r in runs]
    # One Lloyd run from a fixed, given initialisation (the rows of z of the
    # first B unlabelled ids in top-U order), so an implementation can check
    # its Lloyd iterations exactly, independent of k-means++ randomness.
    init_ids = top_ids(w, unl, BUDGET)
    km_fix, inertia_fix = weighted_kmeans(z, unl, w, 0, init=z[init_ids])
    picks_fix, coll_fix = nearest_distinct(z, unl, km_fix.cluster_centers_)
    # De-duplication example: the fixed-init final centres with centre 1
    # replaced by a copy of centre 0 (so centre 1 collides and must take the
    # next-nearest untaken row).
    dup = km_fix.cluster_centers_.copy()
    dup[1] = dup[0]
    picks_dup, coll_dup = nearest_distinct(z, unl, dup)
    assert coll_dup >= 1
    write_json(OUT / "kmeans_default.json", {
        "configuration": "default (union prior, rbf rho=1, beta=1, k=10, N_top=10)",
        "fit_on": "z[unlabelled rows, ascending id order], sample_weight = U (column 3 of scores_default.npy)",
        "kmeans": dict(n_clusters=BUDGET, **KMEANS_KW, algorithm="lloyd",
                       sklearn=sklearn.__version__, threads=1),
        "inertia_definition": "sum_i U_i ||z_i - mu_c(i)||^2 over unlabelled rows (= sklearn inertia_)",
        "selection": "centres in index order; each takes the nearest (squared Euclidean on z) "
                     "unlabelled row not yet taken; ties -> smaller row id",
        "inertia": inertias,
        "inertia_mean": float(np.mean(inertias)),
        "inertia_min": float(np.min(inertias)),
        "runs": runs,
        "fixed_init": {
            "init_ids": init_ids.tolist(),
            "note": "init centres = z[init_ids] (the 8 unlabelled rows with the largest U); "
                    "sklearn Lloyd, max_iter 300, tol 1e-4 (sklearn scales tol by the mean per-feature "
                    "variance of z[U]: tol_abs = 1e-4 * mean(var(z[U], axis=0)), unweighted); "
                    "stops when labels do not change or the squared centre shift <= tol_abs",
            "tol_abs": float(1e-4 * np.mean(np.var(z[unl], axis=0))),
            "n_iter": int(km_fix.n_iter_),
            "inertia": inertia_fix,
            "centers": km_fix.cluster_centers_.tolist(),
            "labels_in_unlabelled_order": km_fix.labels_.tolist(),
            "selected": picks_fix,
            "collisions": coll_fix,
        },
        "dedup_example": {
            "centers": "fixed_init.centers with row 1 replaced by row 0",
            "selected": picks_dup,
            "collisions": coll_dup,
        },
    })

    # Baselines (zero-shot p, uncalibrated).
    H = entropy_rows(p)
    ps = np.sort(p, axis=1)
    margin = ps[:, -1] - ps[:, -2]
    badge_rows = unl[:BADGE_ROWS]
    badge_d, badge_r = badge_explicit(z, p, badge_rows)
    write_json(OUT / "baselines.json", {
        "note": "all on zero-shot p (no calibration) over unlabelled rows; ties -> smaller row id",
        "entropy_top8": top_ids(H[unl], unl, BUDGET).tolist(),
        "margin_top8": top_ids(margin[unl], unl, BUDGET, largest=False).tolist(),
        "margin_definition": "p1 - p2 (largest minus second largest p), smallest first",
        "least_confidence_top8": top_ids(ps[unl, -1], unl, BUDGET, largest=False).tolist(),
        "coreset_top8": coreset(z, labeled, unl, BUDGET),
        "coreset_definition": "k-center greedy from the labelled set, Euclidean on z; "
                              "pick = argmax over unlabelled of min distance to labelled+picked",
        "badge": {
            "rows": badge_rows.tolist(),
            "definition": "g = kron(onehot(argmax p) - p, z) (block c = r_c z, C*D = 192 dims); "
                          "dist[a][b] = ||g_a - g_b||^2, computed explicitly",
            "r": badge_r.tolist(),
            "sq_dist": badge_d.tolist(),
        },
    })

    pred_p = p.argmax(axis=1)
    pred_h = p_hat.argmax(axis=1)
    true_u = classes[unl]
    inl = true_u >= 0
    ps_u = -np.sort(-p[unl], axis=0)
    sims_u = z[unl] @ z[unl].T
    np.fill_diagonal(sims_u, -np.inf)
    ss_u = -np.sort(-sims_u, axis=1)
    tie_margins = {
        "support_10th_vs_11th_rel_min": float(((ps_u[N_TOP - 1] - ps_u[N_TOP]) / ps_u[N_TOP - 1]).min()),
        "knn_kth_vs_k1th_cos_min": float((ss_u[:, K - 1] - ss_u[:, K]).min()),
        "knn_within_topk_adjacent_cos_min": float(np.diff(-ss_u[:, :K], axis=1).min()),
        "note": "gaps of the ranking decisions; the order inside a row of knn.npy can flip in "
                "float32 where the within-top-k gap is tiny, the neighbour SET cannot",
    }
    meta = {
        "generator": "Scripts/make_cec_fixtures.py",
        "rows": N, "dim": D, "classes": C,
        "labeled_count": int(len(labeled)), "unlabeled_count": int(len(unl)),
        "logit_scale": LOGIT_SCALE, "n_top": N_TOP, "k": K, "rho": RHO, "beta": BETA,
        "budget": BUDGET,
        "probabilities": "z = X/||X||, t = T/||T|| (float64 from the float32 files); "
                         "p = softmax(logit_scale * z t^T), max-subtracted",
        "entropy": "natural log, 0 log 0 = 0",
        "support": "S_j = N_top unlabelled rows with the largest p[:, j], ties -> smaller id; S = union",
        "prior_union_definition": "P = mean_{x in S} p(x)",
        "prior_per_class_definition": "P(j) = mean_{x in S_j} p(x, j)",
        "calibration": "p_hat = (p / P) / sum_c (p / P)",
        "knn": "k nearest OTHER unlabelled rows by cosine z.z' (largest first, ties -> smaller id)",
        "kernels": {"rbf": "exp(-rho ||z - z_i||^2)", "cosine": "z.z_i", "uniform": "1"},
        "H_nn": "(1/k) sum_i kappa_i H_hat(i)",
        "U": "H_hat + beta * H_nn",
        "scores_columns": ["H", "H_hat", "H_nn", "U"],
        "scores_note": "labelled rows are NaN; with calibration off H_hat = H; "
                       "with beta = 0 the H_nn column is still filled (U = H_hat)",
        "configurations": cfg_meta,
        "tie_margins": tie_margins,
        "support_union_ids": s_union.tolist(),
        "support_per_class_ids": [s.tolist() for s in sj],
        "prior_union": P_union.tolist(),
        "prior_per_class": P_perclass.tolist(),
        "pool": {
            "data_seed": DATA_SEED, "class_counts": COUNTS, "outliers": N_OUTLIERS,
            "spreads": SPREADS, "class_strength": CLASS_STRENGTH,
            "text_space_noise": TEXT_SPACE_NOISE, "visual_strength": VISUAL_STRENGTH,
            "visual_noise": VISUAL_NOISE, "text_noise": TEXT_NOISE,
            "biased_text_class": BIASED_CLASS, "text_bias": TEXT_BIAS,
            "feature_norm_range": [float(np.linalg.norm(x32, axis=1).min()),
                                   float(np.linalg.norm(x32, axis=1).max())],
            "outlier_ids": np.flatnonzero(classes < 0).tolist(),
        },
        "histograms_unlabelled": {
            "true_class (outliers excluded)": histogram(true_u[inl], C),
            "argmax_p": histogram(pred_p[unl], C),
            "argmax_p_hat_union": histogram(pred_h[unl], C),
            "argmax_p_hat_per_class": histogram(calibrate(p, P_perclass)[unl].argmax(axis=1), C),
        },
        "accuracy_unlabelled_inliers": {
            "argmax_p": float((pred_p[unl][inl] == true_u[inl]).mean()),
            "argmax_p_hat_union": float((pred_h[unl][inl] == true_u[inl]).mean()),
        },
        "versions": {
            "python": platform.python_version(), "numpy": np.__version__,
            "scipy": scipy.__version__, "scikit-learn": sklearn.__version__,
            "threadpoolctl": threadpoolctl.__version__,
        },
    }
    write_json(OUT / "meta.json", meta)
    write_readme()

    h = meta["histograms_unlabelled"]
    print("true class   :", h["true_class (outliers excluded)"])
    print("argmax p     :", h["argmax_p"])
    print("argmax p_hat :", h["argmax_p_hat_union"], "(union prior)")
    print("argmax p_hat :", h["argmax_p_hat_per_class"], "(per-class prior)")
    print("accuracy     :", meta["accuracy_unlabelled_inliers"])
    print("prior union  :", np.round(P_union, 4).tolist())
    print("inertia      :", inertias, "mean", np.mean(inertias))
    print("selected s0  :", runs[0]["selected"])
    print("outliers     :", meta["pool"]["outlier_ids"])
    print("coreset      :", json.loads((OUT / "baselines.json").read_text())["coreset_top8"])
    total = sum(f.stat().st_size for f in OUT.iterdir())
    print(f"wrote {OUT} ({total} bytes)")


def write_readme():
    (OUT / "README.md").write_text("""\
# CEC selection fixtures (generated)

Written by `Scripts/make_cec_fixtures.py` (numpy float64 + scikit-learn
KMeans, one thread); do not edit by hand.  Versions and every setting are in
`meta.json`.  `.npy` files: numpy format 1.0, little-endian, C order.

Pool: 300 rows x 32 dims, 6 classes (long-tailed mix, different spreads,
10 outliers, arbitrary row norms); text features biased so zero-shot p
over-predicts class 3.  20 labelled rows (`labeled.txt`), budget 8.

| file | content |
|---|---|
| `features.npy` | (300,32) f32 image features, not normalised |
| `text.npy` | (6,32) f32 text features, not normalised |
| `labeled.txt` | labelled row ids |
| `classes.txt` | generating class per row, -1 = outlier (not used by CEC) |
| `scores_<cfg>.npy` | (300,4) f64 columns H, H_hat, H_nn, U; labelled rows NaN |
| `knn.npy` | (300,10) i32 neighbour ids, most similar first; labelled rows -1 |
| `kmeans_default.json` | weighted k-means inertia + picks, seeds 0..9; fixed-init Lloyd run |
| `baselines.json` | entropy, margin, least confidence, CoreSet picks; explicit BADGE distances |

Configurations: `default` (union prior, rbf rho 1, beta 1), `perclass`
(per-class prior), `cosine` / `uniform` (kernel), `beta0` (U = H_hat; H_nn
still filled), `nocal` (p instead of p_hat: H_hat = H).  All use k = 10,
N_top = 10, logit scale 100, natural log.

Computations start from the float32 values in the files, converted to
float64.  Scores/kNN should match to ~1e-12 in float64 (looser in float32;
kNN ties are absent in this pool).  k-means++ draws depend on sklearn's RNG, so
only compare inertia statistically (e.g. mean over seeds within a few %);
`fixed_init` in `kmeans_default.json` is an exact Lloyd reference and
`dedup_example` exercises the collision rule (seed 9 also has a collision).
`meta.json` `tie_margins` gives the smallest gap of each ranking decision.
""")


if __name__ == "__main__":
    sys.exit(main())
