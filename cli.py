"""The ``palaestra`` command line.

Subcommands:
    train: train a policy with PPO on any registered env id (per-env defaults).
    eval: evaluate a run's latest checkpoint.
    list-envs: print every registered env id with a one-line description.
    demo: play the carry task with a scripted carrier; write an mp4 and a metrics summary.

Heavy modules are imported inside the subcommands, so ``palaestra --help`` is quick.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import tyro

__all__ = ["demo", "eval_run", "list_envs", "main", "train_command"]

log = logging.getLogger("palaestra")


def list_envs() -> None:
    """Print every registered environment id with a one-line description."""
    from palaestra.envs import ENV_IDS

    width = max(len(entry.id) for entry in ENV_IDS)
    for entry in ENV_IDS:
        api = "gymnasium" if entry.api == "gymnasium" else "pettingzoo"
        print(f"{entry.id:<{width}}  [{api}]  {entry.description}")


def demo(
    out_dir: Path = Path("runs/carry-demo"),
    episodes: int = 5,
    seed: int = 0,
    object: Literal["box", "table", "stretcher"] = "box",
    route: Literal["straight", "turn", "slope"] = "straight",
    role: Literal["follower", "leader"] = "follower",
    video: bool = True,
) -> None:
    """Play Carry-v0 with the admittance-follower baseline and, for reference, a passive carrier.

    Writes OUT_DIR/carry.mp4 (the baseline's first episode) and OUT_DIR/metrics.json (every
    episode's metrics and the means per agent, including how much less effort the human
    partner spends with the baseline than with the passive carrier).

    Args:
        out_dir: Folder for the video and the metrics summary (created if missing).
        episodes: Episodes per agent, with seeds seed, seed+1, ...
        seed: First seed.
        object: The carried object.
        route: The route to the goal.
        role: The baseline's role (the scripted human takes the other).
        video: Write the mp4.
    """
    import gymnasium as gym

    import palaestra  # noqa: F401  (registers the envs)
    from palaestra.agents import AdmittanceFollower, PassiveCarrier, play
    from palaestra.envs.wrappers import write_mp4

    if episodes < 1:
        raise SystemExit("error: --episodes must be at least 1")
    out_dir.mkdir(parents=True, exist_ok=True)
    task = {"object": object, "route": route, "role": role}
    summary: dict[str, Any] = {"env": "palaestra/Carry-v0", "task": task, "agents": {}}
    env = gym.make("palaestra/Carry-v0", render_mode="rgb_array" if video else None)
    frames: list | None = [] if video else None
    try:
        for name, agent in (("admittance", AdmittanceFollower()), ("passive", PassiveCarrier())):
            record = name == "admittance" and frames is not None

            def on_step(episode: int, step: int, done: bool, record: bool = record) -> None:
                if record and episode == 0 and (step % 2 == 0 or done):
                    frames.append(env.render())  # type: ignore[union-attr]

            results = play(env, agent, episodes=episodes, seed=seed, tasks=[task], on_step=on_step)
            runs = []
            for result in results:
                info = result.infos["agent"]
                runs.append({"seed": result.seed, **info})
                print(
                    f"{name:>10} seed {result.seed}: success={info['success']} "
                    f"partner_effort={info['partner_effort']:.1f} N "
                    f"time={info['episode_time_s']:.1f} s ({info['end_reason']})"
                )
            numeric = [k for k, v in runs[0].items() if isinstance(v, (int, float)) and k != "seed"]
            means = {k: sum(float(r[k]) for r in runs) / len(runs) for k in numeric}
            summary["agents"][name] = {"episodes": runs, "mean": means}
    finally:
        env.close()
    adm = summary["agents"]["admittance"]["mean"]["partner_effort"]
    pas = summary["agents"]["passive"]["mean"]["partner_effort"]
    summary["partner_effort_reduction_vs_passive"] = 1.0 - adm / pas
    from palaestra.train.checkpoint import write_json_atomic

    write_json_atomic(out_dir / "metrics.json", summary)
    print(
        f"success rate: admittance {summary['agents']['admittance']['mean']['success']:.0%}, "
        f"passive {summary['agents']['passive']['mean']['success']:.0%}; partner effort "
        f"{adm:.1f} N vs {pas:.1f} N ({summary['partner_effort_reduction_vs_passive']:.0%} less)"
    )
    if frames:
        # Every other control step was recorded: half the env's frame rate plays in real time.
        write_mp4(frames, out_dir / "carry.mp4", fps=round(env.metadata["render_fps"] / 2))
        print(f"wrote {out_dir / 'carry.mp4'}")
    print(f"wrote {out_dir / 'metrics.json'}")


def train(env_id: tyro.conf.Positional[str]) -> None:
    """Train a policy with PPO: palaestra train ENV_ID [--total-timesteps N] [--ppo.<name> V] ...

    ENV_ID is any registered Gymnasium id (CartPole-v1, palaestra/Carry-v0, ...), PettingZoo
    Parallel id (palaestra/carry-v0) or PettingZoo AEC id (palaestra/holdem-v0). Per-env
    defaults apply to every flag not given; `palaestra train ENV_ID --help` lists them.
    `--resume RUN_DIR` continues a run from its latest checkpoint.
    """
    train_command([env_id])


def train_command(argv: Sequence[str]) -> None:
    """Parse ``palaestra train`` arguments (defaults depend on the env id) and train."""
    import palaestra  # noqa: F401  (registers the envs)
    from palaestra.train.checkpoint import CheckpointError
    from palaestra.train.config import TrainConfig, config_from_dict
    from palaestra.train.defaults import defaults_for
    from palaestra.train.envs import resolve_env_id
    from palaestra.train.ppo import TrainingDiverged
    from palaestra.train.ppo import train as run_training

    argv, curriculum_kwargs = _curriculum_knobs(list(argv))
    resume_dir = None
    if "--resume" in argv:
        i = argv.index("--resume")
        if i + 1 >= len(argv):
            raise SystemExit("error: --resume needs a run folder")
        resume_dir = Path(argv[i + 1])
        del argv[i : i + 2]
        config_path = resume_dir / "config.json"
        if not config_path.is_file():
            raise SystemExit(f"error: {config_path} not found: is {resume_dir} a run folder?")
        default = config_from_dict(json.loads(config_path.read_text(encoding="utf-8")))
        default = dataclasses.replace(default, run_dir=resume_dir)
        positional = [a for a in argv if not a.startswith("-")]
        if positional and positional[0] == default.env_id:
            argv.remove(positional[0])
    else:
        env_id = next((a for a in argv if not a.startswith("-")), None)
        if env_id is None:
            if "-h" in argv or "--help" in argv:
                default = TrainConfig()
            else:
                raise SystemExit("error: palaestra train needs an env id, e.g. CartPole-v1")
        else:
            argv.remove(env_id)
            try:
                default = defaults_for(resolve_env_id(env_id))
            except ValueError as exc:
                raise SystemExit(f"error: {exc}") from None
    config = tyro.cli(
        TrainConfig, default=default, args=argv, prog="palaestra train ENV_ID",
        description=(
            "Train a policy with PPO (defaults shown are this env's). "
            "palaestra train --resume RUN_DIR continues a run from its latest checkpoint."
        ),
    )  # fmt: skip
    if curriculum_kwargs:
        if config.curriculum is None:
            raise SystemExit("error: --curriculum.<knob> needs --curriculum NAME")
        if resume_dir is not None:
            raise SystemExit("error: a resumed run keeps its curriculum knobs (see config.json)")
        config = dataclasses.replace(config, curriculum_kwargs=curriculum_kwargs)
    try:
        result = run_training(config, resume=resume_dir is not None)
    except TrainingDiverged as exc:
        raise SystemExit(f"error: training diverged: {exc}") from None
    except (ValueError, CheckpointError) as exc:
        raise SystemExit(f"error: {exc}") from None
    print(f"run folder: {result.run_dir} ({result.global_step:,} steps, {result.updates} updates)")
    if result.evaluation is not None:
        ev = result.evaluation
        line = f"evaluation over {ev['episodes']} episodes: return {ev['mean_return']:.2f}"
        if "success" in ev:
            line += f", success {ev['success']:.0%}"
        print(line)


def _curriculum_knobs(argv: list[str]) -> tuple[list[str], dict[str, Any]]:
    """Take ``--curriculum.<knob> VALUE`` pairs out of ``argv``.

    Values are read as JSON where they parse (``5``, ``0.8``, ``true``, ``[1, 2]``) and as
    strings otherwise; dashes in knob names become underscores. The scheduler checks them.
    """
    rest: list[str] = []
    knobs: dict[str, Any] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("--curriculum."):
            name, has_value, value = arg[len("--curriculum.") :].partition("=")
            if not has_value:
                if i + 1 >= len(argv):
                    raise SystemExit(f"error: {arg} needs a value")
                value = argv[i + 1]
                i += 1
            try:
                knobs[name.replace("-", "_")] = json.loads(value)
            except json.JSONDecodeError:
                knobs[name.replace("-", "_")] = value
        else:
            rest.append(arg)
        i += 1
    return rest, knobs


def eval_run(run_dir: tyro.conf.Positional[Path], episodes: int = 10, video: bool = False) -> None:
    """Evaluate a run's latest checkpoint with deterministic actions; writes RUN_DIR/eval.json.

    The policy loads from config.json and the safetensors weights only (nothing is
    unpickled), and plays the same seeds as the run's own evaluation.

    Args:
        run_dir: The run folder (with config.json and checkpoints/).
        episodes: Evaluation episodes.
        video: Also write RUN_DIR/eval.mp4 of the first episode (envs that render).
    """
    import palaestra  # noqa: F401  (registers the envs)
    from palaestra.agents.policy_agent import agents_from_run
    from palaestra.train.checkpoint import write_json_atomic
    from palaestra.train.config import config_from_dict
    from palaestra.train.evaluate import evaluate_agents, evaluation_seeds

    if episodes < 1:
        raise SystemExit("error: --episodes must be at least 1")
    try:
        agents = agents_from_run(run_dir)
        config = config_from_dict(json.loads((run_dir / "config.json").read_text("utf-8")))
        summary = evaluate_agents(
            config.env_id, agents, seeds=evaluation_seeds(config.seed, episodes),
            env_kwargs=config.env_kwargs, video_path=run_dir / "eval.mp4" if video else None,
        )  # fmt: skip
    except (ValueError, FileNotFoundError) as exc:
        raise SystemExit(f"error: {exc}") from None
    write_json_atomic(run_dir / "eval.json", summary)
    line = f"{config.env_id}: return {summary['mean_return']:.2f} +- {summary['std_return']:.2f}"
    if "success" in summary:
        line += f", success {summary['success']:.0%}"
    print(f"{line} over {summary['episodes']} episodes; wrote {run_dir / 'eval.json'}")


def main(args: Sequence[str] | None = None) -> None:
    """Entry point of the ``palaestra`` command."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    argv = list(sys.argv[1:] if args is None else args)
    if argv and argv[0] == "train":
        train_command(argv[1:])
        return
    tyro.extras.subcommand_cli_from_dict(
        {"train": train, "eval": eval_run, "list-envs": list_envs, "demo": demo},
        prog="palaestra",
        description="palaestra: a gym of human-inspired learning.",
        args=argv,
    )


if __name__ == "__main__":
    main()
