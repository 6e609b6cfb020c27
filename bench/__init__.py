"""Benchmarks: each module prints figures and asserts nothing.

Run one from the checkout's root as ``.venv/bin/python -m bench.core`` (``bench.launcher``,
``bench.listeners``, ``bench.live``, ``bench.reliability``, ``bench.sandbox``); they use
the loopback fakes in ``tests/fakes/``. docs/reliability.md lists what each measures.
"""
