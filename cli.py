"""The ``palaestra`` command line.

Subcommands:
    list-envs: print every registered env id with a one-line description.
    demo: play the carry task with a scripted carrier; write an mp4 and a metrics summary.

Heavy modules are imported inside the subcommands, so ``palaestra --help`` is quick.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import tyro

__all__ = ["demo", "list_envs", "main"]

log = logging.getLogger("palaestra")


def list_envs() -> None:
    """Print every registered environment id with a one-line description."""
    from palaestra.envs import ENV_IDS

    width = max(len(entry.id) for entry in ENV_IDS)
    for entry in ENV_IDS:
        api = "gymnasium" if entry.api == "gymnasium" else "pettingzoo"
        print(f"{entry.id:<{width}}  [{api}]  {entry.description}")


def _write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON through a temporary file and a rename, so readers never see half a file."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _play(env: Any, agent: Any, seed: int, task: dict[str, Any], frames: list | None) -> dict:
    """Play one episode; append every other frame to ``frames`` if given."""
    obs, _ = env.reset(seed=seed, options={"task": task})
    agent.reset()
    while True:
        if frames is not None and env.unwrapped._episode.steps % 2 == 0:
            frames.append(env.render())
        obs, _, terminated, truncated, info = env.step(agent.act(obs))
        if terminated or truncated:
            if frames is not None:
                frames.append(env.render())
            return info


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
    from palaestra.agents import AdmittanceFollower, PassiveCarrier
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
            runs = []
            for i in range(episodes):
                record = frames if (name == "admittance" and i == 0) else None
                info = _play(env, agent, seed + i, task, record)
                runs.append({"seed": seed + i, **info})
                print(
                    f"{name:>10} seed {seed + i}: success={info['success']} "
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
    _write_json_atomic(out_dir / "metrics.json", summary)
    print(
        f"success rate: admittance {summary['agents']['admittance']['mean']['success']:.0%}, "
        f"passive {summary['agents']['passive']['mean']['success']:.0%}; partner effort "
        f"{adm:.1f} N vs {pas:.1f} N ({summary['partner_effort_reduction_vs_passive']:.0%} less)"
    )
    if frames:
        write_mp4(frames, out_dir / "carry.mp4", fps=25)
        print(f"wrote {out_dir / 'carry.mp4'}")
    print(f"wrote {out_dir / 'metrics.json'}")


def main(args: Sequence[str] | None = None) -> None:
    """Entry point of the ``palaestra`` command."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    tyro.extras.subcommand_cli_from_dict(
        {"list-envs": list_envs, "demo": demo},
        prog="palaestra",
        description="palaestra: a gym of human-inspired learning.",
        args=sys.argv[1:] if args is None else args,
    )


if __name__ == "__main__":
    main()
