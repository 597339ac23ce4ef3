"""The version of irbench, in a module of its own so that reports can record it without
importing the package's lazy namespace."""

__version__ = "0.1.0"
