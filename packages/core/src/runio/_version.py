"""The version of the runio distribution."""

__version__ = "0.1.0"
