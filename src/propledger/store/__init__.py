"""The inventory and removal job state, in SQLite (the default) or PostgreSQL.

Set ``PROPLEDGER_DATABASE_URL`` to choose the database, for example
``postgresql+psycopg://propledger@db.internal/propledger``. The tables are created
when the store is first opened.
"""

from propledger.store._database import DEFAULT_DATABASE_URL, database_url_from_env
from propledger.store._lifecycle import InstallationTransition, LifecycleResult, StateRule
from propledger.store._secrets import SECRET_KEY_ENV_VAR, SecretCodec, generate_secret_key
from propledger.store._store import Store

__all__ = [
    "DEFAULT_DATABASE_URL",
    "SECRET_KEY_ENV_VAR",
    "InstallationTransition",
    "LifecycleResult",
    "SecretCodec",
    "StateRule",
    "Store",
    "database_url_from_env",
    "generate_secret_key",
]
