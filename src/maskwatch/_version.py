"""The package version, in a module of its own so that any module can name it without importing
the package root (which sits above everything it hands on)."""

__version__ = "0.1.0"
