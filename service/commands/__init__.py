"""Command groups of the ``smematch`` CLI, one module each, registered by ``service.cli``."""
