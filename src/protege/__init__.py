"""protege: imitation learning from demonstrations, with the expert as the yardstick."""

__version__ = "0.1.0"
