"""Importers of public records (SBA 7(a) loans, Kiva loans) into the table contract, beside ``smematch import``."""
