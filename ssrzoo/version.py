"""The package version.

A module of its own, so that setuptools reads it from ``pyproject.toml``
(``version = {attr = "ssrzoo.version.__version__"}``) without importing ssrzoo.
"""

__version__ = "0.1.0"
