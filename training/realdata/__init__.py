"""Real public records (SBA 7(a) loans, Kiva micro-loans) as smematch tables, and the evaluation on them.

``sba.import_sba`` and ``kiva.import_kiva`` write the four tables of the table contract; ``evaluate`` ranks the
institution that really served each later case with simple baselines, the text-only ranker and a learned
ranker. Nothing is imported or computed at package import time.
"""
