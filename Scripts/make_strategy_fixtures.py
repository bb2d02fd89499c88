#!/usr/bin/env python3
"""Reference picks for the strategies after CEC (Tests/Fixtures/strategies/), in plain numpy (float64).

Run by hand, never in CI:  python3 Scripts/make_strategy_fixtures.py   (numpy only; deterministic)

The pool is the CEC fixture (Tests/Fixtures/cec: 300 x 32 features, 6 classes, 20 labelled rows, logit scale 100).
Each definition below follows the paper's public code as the foundation-model AL code runs it on cached features
(github sanketx/AL-foundation-models); the parts that are random there (k-means seeding, dropout masks) are fixed
here and handed to the Swift tests, which call the same steps with them:

  typiclust   clusters of all rows (given); clusters sorted by labelled members ascending, size descending; clusters
              of <= 5 rows dropped; pick i from cluster i mod K': among its unlabelled, unpicked rows, the one with
              the smallest mean squared L2 distance to its knn+1 nearest (itself included), knn = min(20, n // 2).
  probcover   unit rows; edge i->j when ||z_i - z_j|| < delta (self included); rows within delta of a labelled row
              covered; each pick the row with the most uncovered out-neighbours (first on ties), which it covers.
              delta 0.6, and delta estimated: the largest delta at which 95% of rows have no row of another cluster
              (given clustering, K = classes) closer than delta.
  dropquery   3 keep-masks (rate 0.75, given); prediction argmax_c sum_j kept z_j t_cj; candidates: rows whose
              masked prediction differs from the plain one more than 3 // 2 times; the candidates' clustering
              (given, K = budget) gives each cluster's member nearest its centre.
  cb          [z, p t^T] rows made unit; clusters of all rows (given, |L| + B); the budget goes one at a time to the
              cluster with the smallest labelled share (ties: larger, then first); each gives its unlabelled members
              nearest its centre by cosine.
  per-class / tail-first over entropy: the unlabelled rows ranked by entropy (descending, ties to the smaller row),
              split by predicted class. per-class: classes in the order of their best candidate, each gives its
              next candidate in turn. tail-first: each pick to the class with the fewest labels (labelled + picked;
              ties to the better next candidate) that still has candidates.
"""

import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CEC = ROOT / "Tests" / "Fixtures" / "cec"
OUT = ROOT / "Tests" / "Fixtures" / "strategies"
BUDGET = 12
SCALE = 100.0


def npy(path):
    return np.load(path).astype(np.float64)


def unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def lloyd(x, init_rows, iterations=100):
    """Plain Lloyd's k-means from the given rows as centres: (assignment, centres)."""
    centres = x[init_rows].copy()
    for _ in range(iterations):
        d = ((x[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        a = d.argmin(axis=1)
        new = np.array([x[a == c].mean(axis=0) if (a == c).any() else centres[c] for c in range(len(centres))])
        if np.allclose(new, centres, atol=0, rtol=0):
            break
        centres = new
    d = ((x[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    return d.argmin(axis=1), centres


def typiclust(z, assignment, labelled, budget, knn=20, min_size=5):
    k = assignment.max() + 1
    size = np.bincount(assignment, minlength=k)
    lab = np.bincount(assignment[labelled], minlength=k)
    order = sorted([c for c in range(k) if size[c] > min_size], key=lambda c: (lab[c], -size[c], c))
    labels = assignment.copy()
    labels[labelled] = -1
    picks = []
    for i in range(budget):
        c = order[i % len(order)]
        idx = np.flatnonzero(labels == c)
        v = z[idx]
        kk = min(knn, len(idx) // 2)
        d = ((v[:, None, :] - v[None, :, :]) ** 2).sum(axis=2)
        np.fill_diagonal(d, 0)
        mean = np.sort(d, axis=1)[:, : kk + 1].mean(axis=1)
        best = idx[int(mean.argmin())]
        picks.append(int(best))
        labels[best] = -1
    return picks


def distances(z):
    g = z @ z.T
    d = np.sqrt(np.maximum(0, 2 - 2 * g))
    np.fill_diagonal(d, 0)
    return d


def probcover(z, labelled, budget, delta):
    d = distances(z)
    adj = d < delta
    covered = np.zeros(len(z), dtype=bool)
    for l in labelled:
        covered |= adj[l]
    picks = []
    for _ in range(budget):
        degree = (adj & ~covered[None, :]).sum(axis=1)
        best = int(degree.argmax())
        if degree[best] == 0:
            break
        picks.append(best)
        covered |= adj[best]
    return picks


def estimate_delta(z, clusters, purity=0.95):
    d = distances(z)
    other = np.where(clusters[:, None] != clusters[None, :], d, np.inf).min(axis=1)
    n = len(z)
    return float(np.sort(other)[max(0, min(n - 1, n - int(np.ceil(purity * n))))])


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    x = npy(CEC / "features.npy")
    t = npy(CEC / "text.npy")
    labelled = [int(v) for v in (CEC / "labeled.txt").read_text().split()]
    n = len(x)
    z, tz = unit(x), unit(t)
    unl = [r for r in range(n) if r not in set(labelled)]
    logits = SCALE * z @ tz.T
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    pred = p.argmax(axis=1)
    rng = np.random.default_rng(7)
    out = {"budget": BUDGET, "labelled": labelled}

    # TypiClust: K = labelled + budget clusters of all rows.
    k = len(labelled) + BUDGET
    assignment, _ = lloyd(z, rng.choice(n, k, replace=False))
    out["typiclust"] = {"assignment": assignment.tolist(), "picks": typiclust(z, assignment, np.array(labelled), BUDGET)}

    # ProbCover: fixed delta, and the purity-estimated delta on a K = classes clustering.
    out["probcover_fixed"] = {"delta": 0.6, "picks": probcover(z, labelled, BUDGET, 0.6)}
    clusters, _ = lloyd(z, rng.choice(n, len(t), replace=False))
    delta = estimate_delta(z, clusters)
    out["probcover_estimated"] = {"clusters": clusters.tolist(), "delta": delta, "picks": probcover(z, labelled, BUDGET, delta)}

    # DropQuery: masks over the unlabelled rows, candidates, their clustering and the picks.
    masks = rng.random((3, len(unl), x.shape[1])) >= 0.75
    mism = np.zeros(len(unl), dtype=int)
    for m in masks:
        masked = (z[unl] * m) @ tz.T
        mism += masked.argmax(axis=1) != pred[unl]
    cand = [unl[i] for i in range(len(unl)) if mism[i] > 3 // 2]
    ca, cc = lloyd(z[cand], rng.choice(len(cand), BUDGET, replace=False))
    picks = []
    for c in range(BUDGET):
        members = np.flatnonzero(ca == c)
        dd = ((z[cand][members] - cc[c]) ** 2).sum(axis=1)
        picks.append(int(cand[members[int(dd.argmin())]]))
    np.save(OUT / "dropquery_masks.npy", masks.astype(np.uint8))
    out["dropquery"] = {"mismatches": mism.tolist(), "candidates": cand, "assignment": ca.tolist(),
                        "centres": cc.ravel().tolist(), "picks": picks}

    # Balancing wrappers over entropy.
    h = -(p * np.log(np.where(p > 0, p, 1))).sum(axis=1)
    ranked = sorted(unl, key=lambda r: (-h[r], r))
    queues = {c: [r for r in ranked if pred[r] == c] for c in range(len(t))}
    rank = {r: i for i, r in enumerate(ranked)}
    heads = {c: 0 for c in queues}
    def nxt(c):
        return rank[queues[c][heads[c]]] if heads[c] < len(queues[c]) else None
    turn = sorted([c for c in queues if nxt(c) is not None], key=nxt)
    per_class = []
    while len(per_class) < BUDGET and turn:
        still = []
        for c in turn:
            if len(per_class) == BUDGET:
                break
            per_class.append(queues[c][heads[c]]); heads[c] += 1
            if nxt(c) is not None:
                still.append(c)
        turn = still
    heads = {c: 0 for c in queues}
    counts = np.zeros(len(t), dtype=int)
    # The labelled rows' labels: their generating class (an outlier, -1, counts as class 0).
    generating = [int(v) for v in (CEC / "classes.txt").read_text().split()]
    labels_of = {r: max(0, generating[r]) for r in labelled}
    for v in labels_of.values():
        counts[v] += 1
    tail = []
    while len(tail) < BUDGET:
        open_ = [c for c in queues if nxt(c) is not None]
        c = min(open_, key=lambda c: (counts[c], nxt(c)))
        tail.append(queues[c][heads[c]]); heads[c] += 1; counts[c] += 1
    out["balance"] = {"labelled_labels": [labels_of[r] for r in labelled], "per_class": per_class, "tail_first": tail}

    # CB: [z, p T] unit rows, |L| + B clusters (given), allocation by labelled share, nearest members by cosine.
    xc = np.concatenate([z, p @ tz], axis=1)
    xc = xc / np.linalg.norm(xc, axis=1, keepdims=True)
    kc = len(labelled) + BUDGET
    ca2, cc2 = lloyd(xc, rng.choice(n, kc, replace=False))
    size = np.bincount(ca2, minlength=kc)
    have = np.bincount(ca2[labelled], minlength=kc).astype(float)
    given = np.zeros(kc, dtype=int)
    present = [c for c in range(kc) if size[c] > 0]
    for _ in range(BUDGET):
        c = min(present, key=lambda c: (have[c] / size[c], -size[c], c))
        given[c] += 1; have[c] += 1
    cb = []
    for c in range(kc):
        if given[c] == 0:
            continue
        members = [r for r in np.flatnonzero(ca2 == c) if r not in set(labelled) and r not in cb]
        cen = cc2[c]
        dist = [1 - xc[r] @ cen / (np.linalg.norm(cen) * np.linalg.norm(xc[r])) for r in members]
        order = sorted(range(len(members)), key=lambda i: (dist[i], members[i]))
        cb += [int(members[i]) for i in order[: given[c]]]
    out["cb"] = {"assignment": ca2.tolist(), "centres": cc2.ravel().tolist(), "picks": cb}

    (OUT / "reference.json").write_text(json.dumps(out, indent=1) + "\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
