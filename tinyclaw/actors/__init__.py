"""Actors as first-class things: their persona files and ``tinyclaw actor`` management."""
