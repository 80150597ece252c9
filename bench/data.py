"""The bench's data: seeded generators (clustered dense vectors, Zipf-like sparse rows),
fingerprints that say when a cached copy may be reused, an on-disk cache of generated
arrays, and brute-force ground truth."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

# Bump when the data generator changes, so cached data sets are not reused by mistake.
GENERATOR_VERSION = 1
NOISE = 0.05  # per-dimension gaussian noise around unit-length cluster centres
# The product's defaults (VECSITE_HNSW_M, VECSITE_HNSW_EF_CONSTRUCTION); Milvus gets the same.
HNSW_M, HNSW_EF_CONSTRUCTION = 24, 128
FILTER_BUCKETS = 100  # metadata "bucket" = i % 100, so `bucket = 7` matches 1% (the filter hook)
FILTER_BUCKET = 7
# Sparse vectors: each record's non-zeros drawn (without replacement) from a Zipf-like
# vocabulary, P(rank r) ~ 1 / (r + 1) ** ZIPF_EXPONENT, so posting lists are skewed: the
# commonest indices are in most records, the rare ones in a handful.
SPARSE_GENERATOR_VERSION = 2  # 2: make_sparse vectorised (same distribution, other draws)
ZIPF_EXPONENT = 1.05
SPARSE_NNZ = (20, 40)  # non-zeros per record, inclusive
SPARSE_QUERY_NNZ = (5, 12)  # non-zeros per query


@dataclass
class DataSet:
    name: str  # the bench index's name
    namespace: str
    vectors: np.ndarray  # (n, dim) float32, unit length; row i is key f"v{i}", inserted in order
    labels: np.ndarray
    fingerprint: str


def metadata(i: int, label: int) -> dict[str, int]:
    """Every bench record's metadata: its cluster, and a bucket that 1% of records share."""
    return {"cluster": int(label), "bucket": i % FILTER_BUCKETS}


def _centres(seed: int, dim: int, clusters: int) -> np.ndarray:
    centres = np.random.default_rng([seed, 0]).standard_normal((clusters, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    return centres


def make_vectors(seed: int, n: int, dim: int, clusters: int) -> tuple[np.ndarray, np.ndarray]:
    """n unit vectors around `clusters` unit-length centres (the centres depend on seed alone)."""
    centres = _centres(seed, dim, clusters)
    rng = np.random.default_rng([seed, 1, n])
    labels = rng.integers(0, clusters, size=n)
    # In place, so that a million rows need two copies in memory, not five; the values
    # are those of `centres[labels] + noise * NOISE` (the generator's definition).
    noise = rng.standard_normal((n, dim), dtype=np.float32)
    noise *= np.float32(NOISE)
    vectors = centres[labels]
    vectors += noise
    del noise
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors, labels


def make_queries(seed: int, count: int, dim: int, clusters: int) -> np.ndarray:
    """Query vectors from the same distribution as the data (but not in it)."""
    centres = _centres(seed, dim, clusters)
    rng = np.random.default_rng([seed, 2, count])
    labels = rng.integers(0, clusters, size=count)
    queries = centres[labels] + rng.standard_normal((count, dim), dtype=np.float32) * np.float32(NOISE)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    return queries.astype(np.float32)


def fingerprint(*parts: object) -> str:
    text = ":".join(str(p) for p in (GENERATOR_VERSION, NOISE, HNSW_M, HNSW_EF_CONSTRUCTION, *parts))
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def cached_vectors(
    cache_dir: Path, fp: str, seed: int, n: int, dim: int, clusters: int
) -> tuple[np.ndarray, np.ndarray, bool]:
    """make_vectors(...), kept as .npy files under `cache_dir` named by the fingerprint
    (memory-mapped when read back); returns (vectors, labels, read from the cache)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    stem = cache_dir / f"vectors-{fp}"
    vectors_path, labels_path, meta_path = (stem.with_suffix(s) for s in (".npy", ".labels.npy", ".json"))
    if meta_path.exists() and vectors_path.exists() and labels_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta == {"seed": seed, "n": n, "dim": dim, "clusters": clusters, "fingerprint": fp}:
            return np.load(vectors_path, mmap_mode="r"), np.load(labels_path), True
    vectors, labels = make_vectors(seed, n, dim, clusters)
    for path, array in ((vectors_path, vectors), (labels_path, labels)):
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("wb") as handle:
            np.save(handle, array)
        tmp.replace(path)
    meta_path.write_text(json.dumps({"seed": seed, "n": n, "dim": dim, "clusters": clusters, "fingerprint": fp}))
    return vectors, labels, False


def exact_order(vectors: np.ndarray, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All rows by cosine distance (float64), ties by insertion order: (order, sorted distances)."""
    distances = 1.0 - vectors.astype(np.float64) @ query.astype(np.float64)
    order = np.lexsort((np.arange(len(vectors)), distances))
    return order, distances[order]


def exact_top_k(vectors: np.ndarray, queries: np.ndarray, k: int, *, chunk: int = 65_536) -> list[np.ndarray]:
    """Per query, the rows of the k smallest cosine distances in order (float64, ties by
    insertion order), computed chunk by chunk so that a million rows fit in memory."""
    q64 = queries.astype(np.float64)
    distances = np.empty((len(queries), len(vectors)), dtype=np.float64)
    for start in range(0, len(vectors), chunk):
        block = np.asarray(vectors[start : start + chunk], dtype=np.float64)
        distances[:, start : start + len(block)] = 1.0 - (block @ q64.T).T
    result = []
    for row in distances:
        kth = np.partition(row, k - 1)[k - 1]
        # Everything up to the k-th distance (ties included), then sorted exactly.
        near = np.flatnonzero(row <= kth)
        order = near[np.lexsort((near, row[near]))]
        result.append(order[:k])
    return result


@dataclass
class SparseSet:
    """Sparse rows in CSR form: row i has indices[indptr[i]:indptr[i+1]] and their values."""

    indptr: np.ndarray
    indices: np.ndarray
    values: np.ndarray

    def __len__(self) -> int:
        return len(self.indptr) - 1

    def row(self, i: int) -> Any:
        from search.services.records import SparseValue

        a, b = self.indptr[i], self.indptr[i + 1]
        return SparseValue(indices=self.indices[a:b].tolist(), values=self.values[a:b].tolist())

    def scores(self, query: Any, vocab: int) -> tuple[np.ndarray, np.ndarray]:
        """(inner product with the query in float64, whether the row shares an index with it)."""
        dense_q = np.zeros(vocab, dtype=np.float64)
        dense_q[np.asarray(query.indices)] = np.asarray(query.values, dtype=np.float32).astype(np.float64)
        products = self.values.astype(np.float64) * dense_q[self.indices]
        shared = (dense_q[self.indices] != 0).astype(np.int64)
        starts = self.indptr[:-1]
        return np.add.reduceat(products, starts), np.add.reduceat(shared, starts) > 0


def zipf_probabilities(vocab: int) -> np.ndarray:
    weights = 1.0 / np.arange(1, vocab + 1, dtype=np.float64) ** ZIPF_EXPONENT
    return weights / weights.sum()


def make_sparse(seed: int, n: int, vocab: int, nnz: tuple[int, int], stream: int, *, chunk: int = 20_000) -> SparseSet:
    """n sparse rows, each with nnz[0]..nnz[1] distinct indices drawn from a Zipf-like
    vocabulary (rank r mapped to a fixed random index id) and float32 values in (0.05, 1].

    The draws without replacement are successive sampling (draw by the probabilities,
    drop a repeat, draw again), as numpy's `choice(replace=False, p=...)` does, but
    vectorised over `chunk` rows: each row draws 4x its size with replacement and keeps
    its first distinct ranks in draw order (a row short of distinct ones draws again).
    numpy's per-row call cost about 1 ms a row (2 minutes at 100,000, 20 at 1,000,000)."""
    ids = np.random.default_rng([seed, 10, vocab]).permutation(vocab)  # rank -> index id
    cdf = np.cumsum(zipf_probabilities(vocab))
    cdf /= cdf[-1]
    rng = np.random.default_rng([seed, stream, n, vocab])
    sizes = rng.integers(nnz[0], nnz[1] + 1, size=n)
    indptr = np.zeros(n + 1, dtype=np.int64)
    indptr[1:] = np.cumsum(sizes)
    indices = np.empty(indptr[-1], dtype=np.int64)
    for start in range(0, n, chunk):
        part = sizes[start : start + chunk]
        ranks = _distinct_draws(rng, cdf, part, 4 * nnz[1])
        while (short := np.flatnonzero(ranks[np.arange(len(part)), part - 1] < 0)).size:
            again = _distinct_draws(rng, cdf, part[short], 16 * nnz[1])
            ranks[short] = -1
            ranks[short, : again.shape[1]] = again
        row_ids = np.where(ranks >= 0, ids[ranks], vocab)  # vocab sorts after every real id
        row_ids.sort(axis=1)
        keep = np.arange(ranks.shape[1]) < part[:, None]
        indices[indptr[start] : indptr[start + len(part)]] = row_ids[keep]
    values = rng.uniform(0.05, 1.0, size=indptr[-1]).astype(np.float32)
    return SparseSet(indptr=indptr, indices=indices, values=values)


def _distinct_draws(rng: np.random.Generator, cdf: np.ndarray, sizes: np.ndarray, draws: int) -> np.ndarray:
    """Per row, the first sizes[i] distinct ranks of `draws` draws with replacement, in
    draw order; -1 where a row drew fewer distinct ranks. Shape (rows, sizes.max())."""
    drawn = np.minimum(cdf.searchsorted(rng.random((len(sizes), draws)), side="right"), len(cdf) - 1)
    order = np.argsort(drawn, axis=1, kind="stable")
    ranked = np.take_along_axis(drawn, order, axis=1)
    first = np.ones_like(ranked, dtype=bool)
    first[:, 1:] = ranked[:, 1:] != ranked[:, :-1]
    # The draw position of each rank's first draw, in draw order; repeats pushed past the end.
    positions = np.sort(np.where(first, order, draws), axis=1)[:, : int(sizes.max())]
    ranks = np.take_along_axis(drawn, np.minimum(positions, draws - 1), axis=1)
    ranks[(positions == draws) | (np.arange(positions.shape[1]) >= sizes[:, None])] = -1
    return ranks


def cached_sparse(cache_dir: Path, fp: str, seed: int, n: int, vocab: int) -> tuple[SparseSet, bool]:
    """make_sparse(seed, n, vocab, SPARSE_NNZ, stream=11), kept under `cache_dir` as an
    .npz named by the fingerprint; returns (rows, read from the cache)."""
    path = cache_dir / f"sparse-{fp}.npz"
    if path.exists():
        with np.load(path) as saved:
            if saved["meta"].tolist() == [seed, n, vocab]:
                return SparseSet(saved["indptr"], saved["indices"], saved["values"]), True
    rows = make_sparse(seed, n, vocab, SPARSE_NNZ, stream=11)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, indptr=rows.indptr, indices=rows.indices, values=rows.values, meta=np.array([seed, n, vocab]))
    tmp.replace(path)
    return rows, False


@dataclass
class SparseQuery:
    """A sparse (or, with `dense`, a hybrid) query."""

    sparse: Any  # SparseValue
    dense: np.ndarray | None = None


@dataclass
class SparseCase:
    """The SPARSE and HYBRID indexes (same records: the first N of the main data set, each
    with a sparse row; the HYBRID index keeps their dense vectors too) and their queries."""

    sparse_index: Any
    hybrid_index: Any
    rows: SparseSet
    queries: list[SparseQuery]
    vocab: int
    fingerprint: str
    query_selection: dict[str, Any] = field(default_factory=dict)


def choose_sparse_queries(
    seed: int, rows: SparseSet, vocab: int, count: int
) -> tuple[SparseSet, list[int], dict[str, Any]]:
    """Deep paging needs broad queries: of candidates drawn from the same distribution,
    keep the first ones matching at least half the records (most do: the skew puts common
    indices in most queries); a narrow one would cap every series' depths."""
    n = len(rows)
    candidates = make_sparse(seed, 8 * count, vocab, SPARSE_QUERY_NNZ, 12)
    matches = [int(rows.scores(candidates.row(i), vocab)[1].sum()) for i in range(len(candidates))]
    broad = [i for i, m in enumerate(matches) if m >= n // 2]
    chosen = (broad + [i for i in range(len(candidates)) if i not in broad])[:count]
    selection = {
        "rule": "first candidate queries matching at least half the records",
        "candidates_drawn": len(candidates),
        "candidates_matching": matches,
        "chosen": chosen,
    }
    return candidates, chosen, selection


def sparse_queries(candidates: SparseSet, chosen: list[int], dense: np.ndarray) -> list[SparseQuery]:
    """The chosen candidates as queries, each with a dense query vector for a HYBRID index."""
    return [SparseQuery(sparse=candidates.row(c), dense=dense[i % len(dense)]) for i, c in enumerate(chosen)]
