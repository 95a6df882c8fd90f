"""Sparse deep RL: one sparse-training engine (``deeprl.sparse``) and a sub-package per method."""
