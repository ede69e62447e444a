"""Helpers that sit around environments: video writing for now."""

from palaestra.envs.wrappers.video import write_mp4

__all__ = ["write_mp4"]
