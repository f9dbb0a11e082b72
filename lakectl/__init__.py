"""lakectl: a command-line control plane for a real-time lakehouse."""

__version__ = "0.1.0"
