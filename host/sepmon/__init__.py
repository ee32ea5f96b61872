"""sepmon: a separation monitor for vehicles that must keep apart."""

__version__ = "0.1.0"
