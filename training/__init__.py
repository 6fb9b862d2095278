"""Training: retrain the ranker from outcomes, evaluate it beside the baselines, track it in MLflow.

Modules (import what you need; nothing heavy happens on ``import training``, and mlflow is imported only by
``tracking``, ``pyfunc``, ``registry`` and the MLflow parts of ``api``, inside functions):

- ``config``: hyperparameters from ``config.toml``; ``dataset``: labelled pairs, time split, as-of features,
  propensity weights; ``train``: calibrated gradient-boosted trees as a ``matching.LearnedRanker``;
- ``metrics``: NDCG, MAP, MRR, recall, coverage, diversity; ``evaluate``: the frozen evaluation snapshot and
  every ranker scored on it; ``bias``: how skewed the logged pairs are; ``digest``: sha256 over all rows;
- ``tracking``: the MLflow store; ``pyfunc``: the self-contained MLflow model; ``registry``: aliases and
  promotion; ``plots``: PNG figures; ``api``: ``fit_ranker``, ``train_from_tables``, ``train_from_folder``,
  ``promote_challenger``, ``compare_runs``;
- ``simulator/``: the sample-data simulator (hidden ground truth, biased logging policy; word lists and
  templates in ``simulator/data/``); ``realdata/``: evaluation on imported public records (``smematch evaluate``).
"""
