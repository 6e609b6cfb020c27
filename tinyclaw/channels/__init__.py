"""Chat platform listeners. The shared code is in ``base.py`` (its docstring lists the
public API); each platform module imports only its own library, and only the process
serving that platform imports it."""
