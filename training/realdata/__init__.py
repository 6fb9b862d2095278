"""Evaluation on real public records imported by ``service.imports`` (SBA 7(a) loans, Kiva micro-loans).

``evaluate`` ranks the institution that really served each later case with simple baselines, the text-only
ranker and the learned ranker trained on the outcomes before the split; ``runs`` logs the evaluation to MLflow;
``study`` describes what the records make findable.
"""
