"""The package version, in a module of its own so submodules can read it without importing
the root package (``irbench/__init__.py`` re-exports it)."""

__version__ = "0.1.0"
