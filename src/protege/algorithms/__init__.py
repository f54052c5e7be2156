"""Imitation-learning algorithms, one module per family."""
