"""palaestra: a gym of human-inspired learning.

Gymnasium and PettingZoo environments in which learning agents carry things together and
play games. Importing the package registers its environments::

    import gymnasium as gym
    import palaestra

    env = gym.make("palaestra/Carry-v0")

Heavy dependencies (torch, pybullet) are imported only by the modules that use them.
"""

from palaestra.envs import ENV_IDS, register_envs

__version__ = "0.1.0"
__all__ = ["ENV_IDS", "__version__", "register_envs"]

register_envs()
