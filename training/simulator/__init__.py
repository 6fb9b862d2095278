"""The sample-data simulator: a city's enterprise-support programme with a hidden ground truth.

``generate`` (sizes, the run and the files it writes), ``institutions`` (the institutions and their
archetypes), ``outcomes`` (the hidden truth and the caseworkers' biased choices), ``text`` (problem texts in
English and Chinese, with typos). Word lists and templates are data files in ``data/``.
"""
