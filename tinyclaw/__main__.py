"""``python -m tinyclaw`` is the same as the ``tinyclaw`` console script."""

from tinyclaw.cli.main import main

if __name__ == "__main__":
    main()
