"""Settings, logging, the stack launcher, the bootstrap and the CLI."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    """``switchyard.__version__``: the installed package's version, looked up when first
    asked (importlib.metadata costs ~25 ms, which every import of the package would pay)."""
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("switchyard")
    except PackageNotFoundError:
        found = "0+unknown"  # run from a checkout that was never installed
    globals()["__version__"] = found
    return found
