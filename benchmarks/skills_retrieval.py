"""Retrieval latency of the skill library over 10,000 skills on one CPU core.

Builds a library of ``--skills`` skills generated from the Craft and Gauntlet vocabularies
(varied names, descriptions, parameters and bodies, each built with ``compile_skill``),
proposed in batches with :meth:`~palaestra.skills.library.SkillLibrary.propose_many`, then
pins the process to one core (``os.sched_setaffinity``; ``torch.set_num_threads(1)`` for
MiniLM) and times ``retrieve(query, 5)`` over ``--queries`` distinct queries, the query's
embedding included (MiniLM's cache is off, so every query is encoded; BLAS and OpenMP
use one thread). It prints, per
embedder (the hashing embedder always; ``MiniLMEmbedder`` when the ``[llm]`` extra is
installed), the time to build the library and the first index, p50/p95/max latency, and
whether p50 <= 100 ms.

Usage:
    python benchmarks/skills_retrieval.py [--skills 10000] [--queries 200] [--seed 0]
        [--embedders hashing,minilm] [--core 0]
"""

from __future__ import annotations

import os

# One core means one BLAS thread: set before numpy loads (two OpenBLAS threads sharing one
# busy core made a 10k x 256 matrix-vector product 25 times slower here).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from palaestra.llm.embedders import HashingEmbedder
from palaestra.skills import compile_skill
from palaestra.skills.library import SkillLibrary

ITEMS = ["wood", "dirt", "stone", "planks", "sticks", "table", "wooden_pickaxe", "stone_pickaxe"]
KINDS = ["tree", "dirt", "stone", "water", "table", "chest", "agent", "grass"]
RECIPES = ["planks", "sticks", "table", "wooden_pickaxe", "stone_pickaxe"]
DIRS = ["north", "east", "south", "west"]
CARDS = [
    "Strike",
    "Defend",
    "Bash",
    "Cleave",
    "Twin Strike",
    "Pommel Strike",
    "Iron Wave",
    "Thunderclap",
    "Heavy Blade",
    "Body Slam",
    "Uppercut",
    "Whirlwind",
    "Shrug It Off",
]
MOODS = ["carefully", "quickly", "greedily", "safely", "patiently", "boldly", "quietly"]
GOALS = [
    "before night",
    "for the team",
    "when a partner asks",
    "early in the episode",
    "while exploring",
    "near the base",
    "to help a teammate",
    "as a first step",
]


def craft_skill(i: int, rng: np.random.Generator) -> str:
    item, kind, d = rng.choice(ITEMS), rng.choice(KINDS), rng.choice(DIRS)
    mood, goal, n = rng.choice(MOODS), rng.choice(GOALS), int(rng.integers(2, 20))
    kind_of = int(rng.integers(4))
    if kind_of == 0:
        prim = rng.choice(["collect wood", "collect dirt", "mine stone"])
        head = f"skill gather_{prim.split()[-1]}_{i}(dir: direction = {d})"
        desc = f"walk {mood} toward a {kind} and {prim} {goal}"
        body = f"until near({kind}) max {n}:\n    do move {{dir}}\ndo {prim}"
        post = ""
    elif kind_of == 1:
        recipe = rng.choice(RECIPES)
        head = f"skill make_{recipe}_{i}()"
        desc = f"craft {recipe.replace('_', ' ')} {mood} {goal} if the recipe is known"
        body = f"if knows({recipe}):\n    do craft {recipe}\nelse:\n    do say need {recipe}"
        post = ""
    elif kind_of == 2:
        head = f"skill share_{item}_{i}()"
        desc = f"give {item.replace('_', ' ')} to a partner {mood} {goal}"
        body = f"if has({item}):\n    do give {item}\nelse:\n    do say need {item}"
        post = f"postcondition: not has({item})\n"
    else:
        head = f"skill explore_{d}_{i}(n: int = {n})"
        desc = f"explore {d} {mood} looking for {kind} {goal}"
        body = (
            f"repeat {{n}}:\n    if sees({kind}):\n        do noop\n    else:\n        do move {d}"
        )
        post = ""
    return f"{head}\ndescription: {desc}\n{post}{body}\n"


def gauntlet_skill(i: int, rng: np.random.Generator) -> str:
    card, other = rng.choice(CARDS), rng.choice(CARDS)
    mood, e = rng.choice(MOODS), int(rng.integers(1, 4))
    slug = card.lower().replace(" ", "_")
    if rng.random() < 0.5:
        head = f"skill open_with_{slug}_{i}()"
        desc = f"play {card} {mood} when energy allows, else {other}, against {e} enemies"
        body = (
            f"if can_play({card}) and energy_at_least({int(rng.integers(1, 3))}):\n"
            f"    do play {card}\nelif can_play({other}):\n    do play {other}\nelse:\n"
            "    do end turn"
        )
    else:
        head = f"skill spam_{slug}_{i}()"
        desc = f"keep playing {card} {mood} until fewer than {e} enemies remain"
        body = (
            f"until not enemies_at_least({e}) max {int(rng.integers(5, 40))}:\n"
            f"    if can_play({card}):\n        do play {card}\n    else:\n        do end turn"
        )
    return f"{head}\ndescription: {desc}\n{body}\n"


def queries(n: int, rng: np.random.Generator) -> list[str]:
    out = []
    for j in range(n):
        if j % 2:
            out.append(f"{rng.choice(MOODS)} play {rng.choice(CARDS)} against enemies ({j})")
        else:
            out.append(f"get some {rng.choice(ITEMS).replace('_', ' ')} {rng.choice(GOALS)} ({j})")
    return out


def build(path: Path, embedder, count: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    with SkillLibrary(path, embedder=embedder, synchronous="NORMAL") as lib:
        batch = []
        for i in range(count):
            if i % 3 == 2:
                batch.append(compile_skill(gauntlet_skill(i, rng), "gauntlet"))
            else:
                batch.append(compile_skill(craft_skill(i, rng), "craft"))
            if len(batch) == 500:
                lib.propose_many(batch)
                batch = []
        if batch:
            lib.propose_many(batch)
    return time.perf_counter() - start


def measure(path: Path, embedder, n_queries: int, seed: int) -> dict[str, float]:
    with SkillLibrary(path, embedder=embedder) as lib:
        start = time.perf_counter()
        lib.retrieve("warm up the index", 5, status=("candidate", "active"))
        first = time.perf_counter() - start
        times = []
        for q in queries(n_queries, np.random.default_rng(seed + 1)):
            start = time.perf_counter()
            found = lib.retrieve(q, 5, status=("candidate", "active"))
            times.append(time.perf_counter() - start)
            if len(found) != 5:
                raise RuntimeError(f"retrieve returned {len(found)} results for {q!r}")
        skills = lib.stats()["skills"]
    times_ms = sorted(1000 * t for t in times)
    return {
        "skills": skills,
        "first_ms": 1000 * first,
        "p50_ms": statistics.median(times_ms),
        "p95_ms": times_ms[int(0.95 * (len(times_ms) - 1))],
        "max_ms": times_ms[-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skills", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--embedders", default="hashing,minilm")
    parser.add_argument(
        "--core", type=int, default=None, help="CPU core (default: the first allowed)"
    )
    args = parser.parse_args()
    core = args.core if args.core is not None else min(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.embedders.split(","):
            if name == "hashing":
                embedder = HashingEmbedder()
            elif name == "minilm":
                try:
                    from palaestra.llm.embedders import MiniLMEmbedder

                    embedder = MiniLMEmbedder(device="cpu", cache_size=0)
                except ImportError as err:
                    print(f"minilm: skipped ({err})")
                    continue
            else:
                raise SystemExit(f"unknown embedder {name!r}; use hashing and/or minilm")
            path = Path(tmp) / f"{name}.sqlite"
            built = build(path, embedder, args.skills, args.seed)
            allowed = os.sched_getaffinity(0)
            os.sched_setaffinity(0, {core})
            if name == "minilm":
                import torch

                threads = torch.get_num_threads()
                torch.set_num_threads(1)
            try:
                figures = measure(path, embedder, args.queries, args.seed)
            finally:
                os.sched_setaffinity(0, allowed)
                if name == "minilm":
                    torch.set_num_threads(threads)
            verdict = "yes" if figures["p50_ms"] <= 100 else "NO"
            print(
                f"{name}: {figures['skills']} skills built in {built:.1f} s (not pinned); on core "
                f"{core}: first retrieve (index build) {figures['first_ms']:.0f} ms, "
                f"retrieve(query, 5) p50 {figures['p50_ms']:.2f} ms, "
                f"p95 {figures['p95_ms']:.2f} ms, "
                f"max {figures['max_ms']:.2f} ms over {args.queries} queries; "
                f"p50 <= 100 ms: {verdict}"
            )


if __name__ == "__main__":
    main()
