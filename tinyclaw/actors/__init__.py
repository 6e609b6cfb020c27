"""Actors as first-class things: their persona files, ``tinyclaw actor`` management,
and the rules of the drop folders their CLIs write into (``shared``: half-written and
unclaimed files; ``drops``: when a file may leave; ``recent``: repeats are no-ops)."""
