"""The store: SQLAlchemy 2 over SQLite (embedded default) or PostgreSQL, for tables, outcomes and logs.

Inputs: a database URL (``Settings.database_url``, ``SMEMATCH_DATABASE_URL``) and validated
``matching.tables.files.Tables``. Outputs: the same ``Tables`` back (``load_tables``), stored records, import
summaries. Nothing is built at import time: callers make an engine with ``make_engine(url)``, create the
schema once with ``create_schema(engine)`` (the Alembic migrations to the head) and pass the engine to every function.

    engine = make_engine(settings.database_url)
    create_schema(engine)
    summary = import_tables(engine, read_tables("data/sample"))   # all or nothing, upsert on ids
    tables = load_tables(engine)                                  # the frames read_tables returns
    outcome, created = record_outcome(engine, Outcome(...))       # idempotent on outcome_id

Modules: ``models`` (ORM schema), ``engine`` (URLs, SQLite pragmas, transactions, ``ping``), ``bulk``
(import and load), ``outcomes`` (idempotent outcome writes), ``log`` (the recommendation log), ``lookup``
(single records), ``records`` (records as the HTTP API shapes them: read, list, replace with an audit event;
outcomes by filter), ``keys`` (API keys by hash), ``audit`` (the audit trail), ``migrate`` (Alembic:
``upgrade_schema``, ``current_revision``), ``serving`` (the fleet's model version), ``cases`` (a problem's
lifecycle as events), ``queue`` (cases by status, the provincial queue, the overview), ``spool`` (the local
spool of the recommendation log), ``clock`` (times as stored), ``errors`` (``OutcomeConflict``,
``CaseConflict``, ``StoreError``).
"""

from service.store.bulk import ImportSummary, Progress, TableCounts, count_rows, import_tables, load_tables
from service.store.engine import (
    checkpoint,
    create_schema,
    database_url,
    describe,
    make_engine,
    opened,
    ping,
    reading,
    writing,
)
from service.store.errors import OutcomeConflict, StoreError, translated_errors
from service.store.log import (
    LoggedRecommendation,
    get_logged,
    log_recommendation,
    log_recommendations,
    propensity_log,
    text_hash,
)
from service.store.lookup import get_enterprise, get_institution, get_outcome, get_problem, problems_of
from service.store.migrate import current_revision, head_revision, upgrade_schema
from service.store.models import (
    ApiKeyRow,
    AuditEventRow,
    Base,
    EnterpriseRow,
    InstitutionRow,
    OutcomeRow,
    ProblemRow,
    RecommendationItemRow,
    RecommendationRow,
    ServedModelRow,
)
from service.store.outcomes import naive_utc, record_outcome, utc_now
from service.store.serving import DesiredModel, desired_model, set_desired_model

__all__ = [
    "make_engine",
    "opened",
    "checkpoint",
    "ping",
    "create_schema",
    "database_url",
    "describe",
    "reading",
    "writing",
    "import_tables",
    "load_tables",
    "count_rows",
    "ImportSummary",
    "TableCounts",
    "Progress",
    "record_outcome",
    "utc_now",
    "naive_utc",
    "log_recommendation",
    "log_recommendations",
    "LoggedRecommendation",
    "get_logged",
    "propensity_log",
    "text_hash",
    "get_enterprise",
    "get_problem",
    "get_institution",
    "get_outcome",
    "problems_of",
    "OutcomeConflict",
    "StoreError",
    "translated_errors",
    "Base",
    "EnterpriseRow",
    "ProblemRow",
    "InstitutionRow",
    "OutcomeRow",
    "RecommendationRow",
    "RecommendationItemRow",
    "ApiKeyRow",
    "AuditEventRow",
    "ServedModelRow",
    "upgrade_schema",
    "current_revision",
    "head_revision",
    "DesiredModel",
    "desired_model",
    "set_desired_model",
]
