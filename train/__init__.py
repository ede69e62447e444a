"""Training: PPO for palaestra's envs and any Gymnasium or PettingZoo env.

Import the pieces from their modules (``palaestra.train.ppo``, ...); this package itself
imports nothing heavy.
"""
