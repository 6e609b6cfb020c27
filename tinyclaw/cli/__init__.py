"""The ``tinyclaw`` command line (Typer): the top layer, which nothing else imports.

Each command group lives in its own module; the program starts at
``tinyclaw.cli.main:main`` (the ``tinyclaw`` script, ``python -m tinyclaw``), which
serves a plain ``tinyclaw worker`` without loading Typer at all."""

__all__: list[str] = []
