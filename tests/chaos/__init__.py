"""The chaos run: a real worker and real listeners SIGKILLed at random moments.

``driver`` is the program (``.venv/bin/python -m tests.chaos --help``); ``ledger`` and
``report`` keep and print its figures; ``listener`` is what every platform side shares,
and ``telegram``, ``discord``, ``whatsapp`` are the sides. Imports run one way: the
driver on top, the sides below it, the shared modules at the bottom.
"""
