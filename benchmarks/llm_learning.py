"""Does PPO teach the MiniLM language policy an easy Craft task on a CPU?

The claim measured: the encoder policy (frozen all-MiniLM-L6-v2 embeddings of the text view
and of each legal action, a trainable similarity head, a value head), trained with
palaestra's PPO on ``palaestra/Craft-v0`` in text mode, raises its success on ``collect wood``
on small maps from the untrained policy's to at least ``TARGET``, over 3 training seeds,
within 30 minutes of CPU per seed (``--budget-minutes`` of training, then evaluation). Both
policies play the same held-out evaluation seeds, greedily (the most likely legal action),
and both figures are printed side by side with 95% t-intervals over the training seeds.

    python benchmarks/llm_learning.py                   # the README's figure (3 seeds)
    python benchmarks/llm_learning.py --seeds 1 --budget-minutes 5   # a quicker look

Each seed runs in its own process with one torch thread, ``--jobs`` at a time.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import time
from pathlib import Path
from typing import Any

from stats import mean_ci  # benchmarks/stats.py, a sibling module

TASK = {"goal": "collect wood", "size": 8}
MAX_STEPS = 30
TARGET = 0.85
"""Stated before the three-seed runs, after a one-seed probe in which the untrained policy,
then embedding the whole prompt, succeeded 57% of the time. The runs embed the text view
alone, and the untrained policy (plain cosine similarity: the head starts as the identity,
whatever the seed) succeeds 22% of the time."""
EVAL_SEED0 = 50_000


def _success(policy: Any, episodes: int) -> float:
    import gymnasium as gym
    import torch

    import palaestra  # noqa: F401
    from palaestra.agents import play

    class Greedy:
        def reset(self, seed: int | None = None) -> None:
            pass

        def act(self, observation: Any, info: Any = None) -> int:
            rows = [{"text": observation["text"], "legal_actions": info["legal_actions"]}]
            with torch.no_grad():
                step = policy.act(torch.zeros(1, 1), extras=rows, deterministic=True)
            return int(step.action[0])

    env = gym.make("palaestra/Craft-v0", obs_mode="both", task=TASK, max_steps=MAX_STEPS)
    try:
        results = play(env, Greedy(), seeds=[EVAL_SEED0 + i for i in range(episodes)])
    finally:
        env.close()
    return sum(r.metrics["agent"]["success"] for r in results) / len(results)


def run_seed(seed: int, args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from palaestra.agents import PolicyAgent
    from palaestra.agents.language_spec import LanguagePolicyConfig, build_language_policy
    from palaestra.train.callbacks import Callback
    from palaestra.train.config import PPOConfig, TrainConfig
    from palaestra.train.ppo import train

    torch.set_num_threads(1)
    torch.manual_seed(seed)  # the trainer builds its policy from the same seed
    untrained = build_language_policy("minilm", LanguagePolicyConfig())
    before = _success(untrained, args.eval_episodes)
    config = TrainConfig(
        env_id="palaestra/Craft-v0", total_timesteps=args.total_timesteps, num_envs=8,
        seed=seed, policy="minilm", torch_threads=1, eval_episodes=0, video=False, quiet=True,
        env_kwargs={"task": TASK, "max_steps": MAX_STEPS},
        run_dir=Path(args.out) / f"seed{seed}",
        ppo=PPOConfig(num_steps=32, minibatch_size=64, update_epochs=4, learning_rate=1e-3,
                      ent_coef=0.01, gamma=0.95),
    )  # fmt: skip
    start = time.process_time()
    wall = time.perf_counter()

    class CpuBudget(Callback):
        """Stop after the update that crosses the CPU budget (training's own CPU time)."""

        def on_update_end(self, state: Any) -> bool:
            return time.process_time() - start < args.budget_minutes * 60

    result = train(config, [CpuBudget()])
    cpu = time.process_time() - start
    trained = PolicyAgent.from_run(result.run_dir).policy  # as a user would load it
    after = _success(trained, args.eval_episodes)
    return {
        "seed": seed, "untrained": before, "trained": after, "steps": result.global_step,
        "cpu_minutes": cpu / 60, "wall_minutes": (time.perf_counter() - wall) / 60,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--total-timesteps", type=int, default=200_000)
    parser.add_argument(
        "--budget-minutes",
        type=float,
        default=27.0,
        help="CPU minutes of training per seed (evaluation comes after)",
    )
    parser.add_argument("--eval-episodes", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", default="runs/llm_learning")
    args = parser.parse_args()
    seeds = list(range(args.seeds))
    with mp.get_context("spawn").Pool(min(args.jobs, len(seeds))) as pool:
        rows = pool.starmap(run_seed, [(s, args) for s in seeds])
    print(f"Craft-v0 text, task {TASK}, max_steps {MAX_STEPS}; greedy success over "
          f"{args.eval_episodes} held-out seeds; target >= {TARGET:.0%}")  # fmt: skip
    print(f"{'seed':>4} {'untrained':>9} {'trained':>8} {'steps':>7} {'CPU min':>8}")
    for r in rows:
        print(f"{r['seed']:>4} {r['untrained']:>9.2f} {r['trained']:>8.2f} {r['steps']:>7} "
              f"{r['cpu_minutes']:>8.1f}")  # fmt: skip
    for key in ("untrained", "trained"):
        mean, half = mean_ci([r[key] for r in rows])
        print(f"{key:>9}: {mean:.3f} +- {half:.3f} (95% CI over {len(rows)} seeds)")
    met = mean_ci([r["trained"] for r in rows])[0] >= TARGET
    print(f"target {'met' if met else 'NOT met'}; max CPU per seed "
          f"{max(r['cpu_minutes'] for r in rows):.1f} min")  # fmt: skip
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "results.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
