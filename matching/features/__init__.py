"""Pair features: the one feature function and what outcome history says about a pair."""
