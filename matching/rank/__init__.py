"""Ranking: the rankers and the model bundles they are saved in."""
