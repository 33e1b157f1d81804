from alembic import context
from sqlmodel import SQLModel

import register.models  # noqa: F401  (the tables)

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=SQLModel.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
