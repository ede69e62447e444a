"""Speed of exact candidate scoring: naive, batched and prefix reuse, measured in one run.

A Llama-style causal LM with random weights (default 4 layers, hidden 512, vocabulary
32,000) scores one prompt of 64 or 256 random token ids against K = 1, 2, 4, 16, 64
candidates of 4 to 8 random tokens, through ``palaestra.llm.scoring`` on token ids (text
tokenisation is not what is measured):

* ``naive``: one forward pass per candidate (prompt + candidate);
* ``batched``: the K full rows in padded passes (as many as the token budget allows);
* ``prefix``: the prompt once, its cache expanded to K rows for the candidates;
* ``auto``: what ``TransformersBackend.score`` uses by default (prefix from
  ``ScoringSettings.prefix_min_candidates`` candidates on).

Each figure is the median of ``--repeats`` calls after one warm-up call, in milliseconds per
call, with the ratios of the same run. A second table compares applying the LM head only at
the positions that predict candidate tokens ("gathered") against applying it at every
position first ("full", what ``model(...).logits`` does), for whole calls and for the head
stage alone (the K full rows' hidden states given). Every method's scores are checked
against ``batched`` (largest absolute difference printed).

Targets: prefix >= 4x batched at prompt 256, K=16 and >= 8x at K=64; auto no slower than
batched at K=1 and 2 (within 10 % noise); gathered >= 3x full.

Usage:
    python benchmarks/llm_scoring.py [--device cpu] [--threads 1] [--layers 4] [--hidden 512]
        [--repeats 3] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from palaestra.llm.scoring import (
    ModelParts,
    ScoringSettings,
    TokenizedPrompt,
    gathered_logprobs,
    score_items,
    score_prefix,
    score_rows,
)


def build_model(layers: int, hidden: int, vocab: int, device: str) -> torch.nn.Module:
    """A random-weight Llama-style causal LM (SDPA attention, grouped heads off)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=int(hidden * 8 / 3) // 64 * 64 + 64,
        num_hidden_layers=layers,
        num_attention_heads=max(1, hidden // 64),
        num_key_value_heads=max(1, hidden // 64),
        max_position_embeddings=2048,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
    )
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    return LlamaForCausalLM(config).to(device=device, dtype=dtype).eval()


def make_item(prompt_len: int, k: int, vocab: int, rng: np.random.Generator) -> TokenizedPrompt:
    """One prompt of random ids (BOS first) and K random candidates of 4 to 8 tokens."""
    prompt = (1, *rng.integers(3, vocab, prompt_len - 1).tolist())
    rows = tuple(
        (*prompt, *rng.integers(3, vocab, int(rng.integers(4, 9))).tolist()) for _ in range(k)
    )
    return TokenizedPrompt(rows, (prompt_len,) * k)


def timed(fn: Callable[[], list], repeats: int, device: str) -> tuple[float, list]:
    """Median milliseconds of ``fn`` over ``repeats`` calls after one warm-up; its last result."""
    with torch.no_grad():
        out = fn()
        times = []
        for _ in range(repeats):
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            start = time.perf_counter()
            out = fn()
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), out


def max_diff(a: list, b: list) -> float:
    return max(float((x.logprob - y.logprob).abs().max()) for x, y in zip(a, b, strict=True))


def bench_methods(parts, settings, args) -> dict[tuple[int, int], dict[str, float]]:
    """The main table: ms per call of each method, and their ratios."""
    rng = np.random.default_rng(0)
    ks = (1, 2, 16) if args.quick else (1, 2, 4, 16, 64)
    results: dict[tuple[int, int], dict[str, float]] = {}
    print(
        f"{'prompt':>6} {'K':>3} {'naive':>9} {'batched':>9} {'prefix':>9} {'auto':>9}"
        f" {'batched/prefix':>15} {'naive/batched':>14} {'auto/batched':>13} {'max|diff|':>10}"
    )
    for prompt_len in args.prompt_lengths:
        for k in ks:
            items = [make_item(prompt_len, k, args.vocab, rng)]
            row: dict[str, float] = {}
            outs = {}
            for method in ("naive", "batched", "prefix", "auto"):
                call = lambda m=method, it=items: score_items(parts, it, settings, method=m)  # noqa: E731
                row[method], outs[method] = timed(call, args.repeats, args.device)
            diff = max(max_diff(outs[m], outs["batched"]) for m in ("naive", "prefix", "auto"))
            results[(prompt_len, k)] = row
            print(
                f"{prompt_len:>6} {k:>3} {row['naive']:>9.1f} {row['batched']:>9.1f}"
                f" {row['prefix']:>9.1f} {row['auto']:>9.1f}"
                f" {row['batched'] / row['prefix']:>14.2f}x {row['naive'] / row['batched']:>13.2f}x"
                f" {row['auto'] / row['batched']:>12.2f}x {diff:>10.1e}",
                flush=True,
            )
    return results


def bench_head(parts, settings, args) -> dict[str, float]:
    """Gathered vs full-vocabulary logits at prompt 256 (or the longest asked), K=16."""
    rng = np.random.default_rng(1)
    prompt_len, k = max(args.prompt_lengths), 16
    items = [make_item(prompt_len, k, args.vocab, rng)]
    ratios = {}
    print(f"\nLM head at prompt {prompt_len}, K={k}: gathered positions vs all positions")
    print(f"{'method':>8} {'gathered':>9} {'full':>9} {'full/gathered':>14} {'max|diff|':>10}")
    runs = {
        "batched": lambda full: score_rows(parts, items, settings, full_logits=full),
        "prefix": lambda full: score_prefix(parts, items, settings, full_logits=full),
    }
    for name, run in runs.items():
        gathered, a = timed(lambda run=run: run(False), args.repeats, args.device)
        full, b = timed(lambda run=run: run(True), args.repeats, args.device)
        ratios[name] = full / gathered
        print(
            f"{name:>8} {gathered:>9.1f} {full:>9.1f} {full / gathered:>13.2f}x"
            f" {max_diff(a, b):>10.1e}"
        )
    # The head stage alone: the K full rows' final hidden states are given.
    item = items[0]
    rows = item.rows
    width = max(len(r) for r in rows)
    device = parts.device
    ids = torch.zeros((k, width), dtype=torch.long, device=device)
    for r, row in enumerate(rows):
        ids[r, : len(row)] = torch.as_tensor(row)
    with torch.no_grad():
        hidden = parts.body(input_ids=ids).last_hidden_state.reshape(k * width, -1)
    index = [r * width + t - 1 for r, row in enumerate(rows) for t in range(prompt_len, len(row))]
    targets = [row[t] for row in rows for t in range(prompt_len, len(row))]
    index_t = torch.as_tensor(index, device=device)
    targets_t = torch.as_tensor(targets, device=device)

    def head(full: bool) -> list:
        sources = [(hidden, index_t)]
        return [gathered_logprobs(parts, sources, targets_t, settings, full_logits=full)]

    gathered, a = timed(lambda: head(False), args.repeats, args.device)
    full, b = timed(lambda: head(True), args.repeats, args.device)
    ratios["head"] = full / gathered
    diff = float((a[0] - b[0]).abs().max())
    print(f"{'head':>8} {gathered:>9.1f} {full:>9.1f} {full / gathered:>13.2f}x {diff:>10.1e}")
    return ratios


def report_targets(results, head, settings) -> None:
    print("\ntargets (measured in this run):")
    checks = []
    for prompt_len, k, want in ((256, 16, 4.0), (256, 64, 8.0)):
        if (prompt_len, k) in results:
            got = results[(prompt_len, k)]["batched"] / results[(prompt_len, k)]["prefix"]
            checks.append((f"prefix vs batched at prompt {prompt_len}, K={k}", got, want))
    for k in (1, 2):
        rows = [r for (_, kk), r in results.items() if kk == k]
        if rows:
            got = min(r["batched"] / r["auto"] for r in rows)
            checks.append((f"batched/auto at K={k} (worst prompt length)", got, 0.9))
    checks.append(("full/gathered logits, head stage", head["head"], 3.0))
    checks.append(("full/gathered logits, whole batched call", head["batched"], 3.0))
    for name, got, want in checks:
        print(f"  {name}: {got:.2f}x (target >= {want:g}x) {'met' if got >= want else 'MISSED'}")
    print(
        f"  auto reuses the prefix from K={settings.prefix_min_candidates}; "
        f"token budget {settings.token_budget}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--vocab", type=int, default=32000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--prompt-lengths", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--token-budget", type=int, default=ScoringSettings.token_budget)
    parser.add_argument("--quick", action="store_true", help="K in (1, 2, 16), one repeat")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats = 1
    torch.set_num_threads(args.threads)
    model = build_model(args.layers, args.hidden, args.vocab, args.device)
    parts = ModelParts.of(model)
    settings = ScoringSettings(token_budget=args.token_budget)
    print(
        f"Llama-style, {args.layers} layers, hidden {args.hidden}, vocab {args.vocab}, "
        f"{next(model.parameters()).dtype}, device {args.device}, threads "
        f"{torch.get_num_threads()}, torch {torch.__version__}; ms per call "
        f"(median of {args.repeats})\n"
    )
    results = bench_methods(parts, settings, args)
    head = bench_head(parts, settings, args)
    report_targets(results, head, settings)


if __name__ == "__main__":
    main()
