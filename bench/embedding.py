#!/usr/bin/env python
"""Text-embedding benchmark: texts per second on the demo corpus, before and after.

    .venv/bin/python bench/embedding.py              # the whole demo corpus (~4,000 texts)
    .venv/bin/python bench/embedding.py --limit 500  # a seeded random subset, for a quick run

The corpus is the demo index's (``search.services.demo``: stdlib docstrings), embedded in
chunks of 64 in corpus order, as ``load_demo`` sends them. Configurations:

* ``before``          - the encoder as it was: numpy, each chunk sorted by length and run
                        as padded batches, numpy's BLAS on its default threads (one per core);
* ``before-1-thread`` - the same with BLAS on one thread (faster when the other core is
                        busy); the speed-up is measured against the faster of the two;
* ``numpy-1-thread``  - today's encoder on the numpy runtime (every text alone, no
                        padding), BLAS on one thread;
* ``onnx-1-thread``   - today's encoder on ONNX Runtime, one text at a time;
* ``onnx``            - today's encoder as the service runs it: ONNX Runtime, one text per
                        core side by side.

The machine is shared and noisy, so every chunk is embedded by every configuration in
turn (the order rotating from chunk to chunk) and each configuration's time is the sum
over chunks: load that comes and goes hits all of them alike, and the ratios hold.
The run also checks the vectors: each configuration's cosine with ``before`` (the old,
reference-checked encoder), and that the service's vectors do not depend on the batch.

Results: bench/results/embedding.json and bench/results/embedding.png.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vecsite.settings")

CHUNK = 64  # search.services.embedding.EMBED_BATCH: what load_demo embeds per call
TARGET_SPEEDUP = 3.0
OLD_MAX_TOKENS_PER_BATCH = 8192  # the old encoder's cap on padded tokens per forward pass

CONFIGS = ("before", "before-1-thread", "numpy-1-thread", "onnx-1-thread", "onnx")

Embed = Callable[[Sequence[str]], np.ndarray]


def one_blas_thread(embed: Embed) -> Embed:
    """``embed`` with numpy's BLAS held to one thread while it runs."""
    from threadpoolctl import threadpool_limits

    def limited(texts: Sequence[str]) -> np.ndarray:
        with threadpool_limits(limits=1, user_api="blas"):
            return embed(texts)

    return limited


def old_padded_embed(encoder: Any) -> Embed:
    """The encoder before per-text encoding: sort by length, pad each batch to its
    longest member, masked mean pooling, normalise (search/embedding/minilm.py at 9fce8a3)."""
    from search.embedding.numpy_bert import NumpyBert

    runtime: NumpyBert = encoder._encoder
    pad_id = encoder.config.bert.pad_token_id

    def embed(texts: Sequence[str]) -> np.ndarray:
        ids = encoder.tokenize(texts)
        out = np.empty((len(texts), encoder.dimension), dtype=np.float32)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        start = 0
        while start < len(order):
            batch = order[start : start + CHUNK]  # load_demo called embed(64 texts, batch_size=64)
            batch = batch[: max(1, OLD_MAX_TOKENS_PER_BATCH // len(ids[batch[-1]]))]
            width = len(ids[batch[-1]])
            input_ids = np.full((len(batch), width), pad_id, dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.float32)
            for row, i in enumerate(batch):
                input_ids[row, : len(ids[i])] = ids[i]
                mask[row, : len(ids[i])] = 1.0
            hidden = runtime.forward_padded(input_ids, mask)
            pooled = np.einsum("bld,bl->bd", hidden, mask) / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out[batch] = pooled / np.maximum(norms, np.float32(1e-12))
            start += len(batch)
        return out

    return embed


def corpus(limit: int | None, seed: int) -> list[str]:
    import django

    django.setup()
    from search.services.demo import demo_entries

    texts = [entry.data for entry in demo_entries()]
    if limit is not None and limit < len(texts):
        keep = sorted(random.Random(seed).sample(range(len(texts)), limit))  # corpus order kept
        texts = [texts[i] for i in keep]
    return texts


def machine() -> dict[str, Any]:
    import onnxruntime

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "onnxruntime": onnxruntime.__version__,
        "load_average_at_start": os.getloadavg()[0],
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    from search.embedding.encoder import SentenceEncoder, default_threads
    from search.embedding.registry import _builtin_dir

    texts = corpus(args.limit, args.seed)
    host = machine()  # before the run: its load average is the one at the start
    model_dir = _builtin_dir()
    cores = default_threads()
    numpy_encoder = SentenceEncoder(model_dir, runtime="numpy")
    onnx_1 = SentenceEncoder(model_dir, runtime="onnxruntime", threads=1)
    onnx_n = SentenceEncoder(model_dir, runtime="onnxruntime", threads=cores)
    old = old_padded_embed(numpy_encoder)
    configs: dict[str, Embed] = {
        "before": old,
        "before-1-thread": one_blas_thread(old),
        "numpy-1-thread": one_blas_thread(numpy_encoder.embed_documents),
        "onnx-1-thread": onnx_1.embed_documents,
        "onnx": onnx_n.embed_documents,
    }
    configs = {name: fn for name, fn in configs.items() if name in args.configs}
    for fn in configs.values():
        fn(["warm up"])

    lengths = [len(ids) for ids in onnx_1.tokenize(texts)]
    chunks = [texts[i : i + CHUNK] for i in range(0, len(texts), CHUNK)]
    seconds = dict.fromkeys(configs, 0.0)
    vectors = {name: np.empty((len(texts), onnx_1.dimension), dtype=np.float32) for name in configs}
    names = list(configs)
    started = time.perf_counter()
    for number, chunk in enumerate(chunks):
        start = number * CHUNK
        for k in range(len(names)):
            name = names[(number + k) % len(names)]
            t0 = time.perf_counter()
            vectors[name][start : start + len(chunk)] = configs[name](chunk)
            seconds[name] += time.perf_counter() - t0
        if not args.quiet:
            done = start + len(chunk)
            rates = "  ".join(f"{n} {done / seconds[n]:6.1f}/s" for n in names)
            print(f"\r{done:5d}/{len(texts)}  {rates}", end="", file=sys.stderr, flush=True)
    if not args.quiet:
        print(file=sys.stderr)
    wall = time.perf_counter() - started

    befores = [name for name in names if name.startswith("before")] or names[:1]
    baseline = min(befores, key=lambda name: seconds[name])  # the faster "before" is the bar
    results: dict[str, Any] = {}
    for name in names:
        cosines = np.sum(vectors[name].astype(np.float64) * vectors[baseline], axis=1)
        results[name] = {
            "seconds": round(seconds[name], 3),
            "texts_per_second": round(len(texts) / seconds[name], 2),
            "speedup_vs_before": round(seconds[baseline] / seconds[name], 2),
            "min_cosine_vs_before": float(np.min(cosines)),
        }

    # The promise: a text's vector does not depend on its batch. Re-embed a sample alone
    # and compare bit for bit with the chunked run of the service's configuration.
    checked = "onnx" if "onnx" in configs else names[-1]
    sample = random.Random(args.seed + 1).sample(range(len(texts)), min(32, len(texts)))
    encoder = {"onnx": onnx_n, "onnx-1-thread": onnx_1, "numpy-1-thread": numpy_encoder}.get(checked)
    identical = None
    if encoder is not None:
        identical = all(np.array_equal(encoder.embed_documents([texts[i]])[0], vectors[checked][i]) for i in sample)

    return {
        "command": "python bench/embedding.py" + (f" --limit {args.limit} --seed {args.seed}" if args.limit else ""),
        "machine": host,
        "corpus": {
            "texts": len(texts),
            "chunk": CHUNK,
            "tokens_mean": round(float(np.mean(lengths)), 1),
            "tokens_p50": int(np.percentile(lengths, 50)),
            "tokens_p90": int(np.percentile(lengths, 90)),
            "tokens_max": int(max(lengths)),
        },
        "threads": cores,
        "baseline": baseline,
        "wall_seconds": round(wall, 1),
        "configs": results,
        "batch_independent": {"config": checked, "sampled_texts": len(sample), "bit_identical_alone": identical},
        "target_speedup": TARGET_SPEEDUP,
        "load_average_at_end": os.getloadavg()[0],
    }


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    configs = report["configs"]
    names = list(configs)
    rates = [configs[n]["texts_per_second"] for n in names]
    fig, ax = plt.subplots(figsize=(8.5, 4.4))
    colours = {"before": "#9e9e9e", "before-1-thread": "#bdbdbd", "numpy-1-thread": "#90caf9"}
    bars = ax.bar(names, rates, color=[colours.get(n, "#1565c0") for n in names])
    for bar, name in zip(bars, names, strict=True):
        ax.annotate(
            f"{configs[name]['texts_per_second']:.1f}/s\n{configs[name]['speedup_vs_before']:.2f}x",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=9,
        )
    target = configs[report["baseline"]]["texts_per_second"] * report["target_speedup"]
    ax.axhline(target, color="#c62828", linestyle="--", linewidth=1)
    ax.annotate(
        f"target: {report['target_speedup']:.0f}x {report['baseline']}",
        (-0.4, target * 1.02),
        color="#c62828",
        fontsize=8,
    )
    corpus = report["corpus"]
    ax.set_ylabel("texts per second")
    ax.set_title(
        f"all-MiniLM-L6-v2 on the demo corpus: {corpus['texts']} texts, mean {corpus['tokens_mean']} tokens, "
        f"chunks of {corpus['chunk']}, {report['threads']} cores",
        fontsize=9,
    )
    ax.set_ylim(0, max(rates) * 1.25)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, help="embed a seeded random subset of this many texts (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="seed for --limit's subset (default 0)")
    parser.add_argument(
        "--configs",
        nargs="+",
        default=list(CONFIGS),
        choices=list(CONFIGS),
        help="configurations to run (default: all)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "embedding.json", help="the JSON report")
    parser.add_argument("--plot", type=Path, default=RESULTS_DIR / "embedding.png", help="the bar chart")
    parser.add_argument("--quiet", action="store_true", help="no progress line")
    args = parser.parse_args(argv)

    report = run(args)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    plot(report, args.plot)
    print(f"{'config':<14} {'seconds':>8} {'texts/s':>8} {'vs before':>9} {'min cos':>10}")
    for name, row in report["configs"].items():
        print(
            f"{name:<14} {row['seconds']:>8.1f} {row['texts_per_second']:>8.1f} "
            f"{row['speedup_vs_before']:>8.2f}x {row['min_cosine_vs_before']:>10.7f}"
        )
    print(
        f"batch-independent vectors ({report['batch_independent']['config']}): "
        f"{report['batch_independent']['bit_identical_alone']}"
    )
    print(f"wrote {args.output} and {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
