"""The service around the engine: the command line, the HTTP API and console, the store, batch runs, imports.

- ``cli`` and ``commands/``: the ``smematch`` command; each command parses its options, calls one function of
  the modules below and prints the result;
- ``settings`` (``SMEMATCH_*``), ``loading`` (tables from a data folder or the store), ``bundles`` (the model
  served: the current bundle, else the baseline), ``fleet`` (the version every worker serves);
- the work behind the commands: ``setup``, ``learning`` (train, compare, promote), ``recommend``,
  ``evaluation``, ``server``; ``exports`` (the provincial queue as CSV or XLSX, for the API and batch runs);
- ``api/`` (FastAPI; routes in ``api/routes/``), ``web/`` (the console; mounted by the API, imports nothing from
  it), ``store/`` (every SQL statement, Alembic migrations), ``batch/`` (batch runs, local or on Dask),
  ``imports/`` (a data folder into the store; public records as a data folder).

Dependencies point one way: ``service -> training -> matching``.
"""
