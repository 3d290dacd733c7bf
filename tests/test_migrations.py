"""Migrations: one head, and a database migrated from zero matches the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade

from backend.extensions import db
from backend.ops import migration_heads


def test_migrations_have_a_single_head(app) -> None:
    with app.app_context():
        heads = migration_heads()
        config = app.extensions["migrate"].migrate.get_config()
        script = ScriptDirectory.from_config(config)
    assert len(heads) == 1
    # Every revision chains back to the base without branches.
    revisions = list(script.walk_revisions())
    assert revisions[-1].down_revision is None
    assert all(not rev.is_merge_point for rev in revisions)


def test_database_migrated_from_zero_matches_the_models(app) -> None:
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_downgrade_to_base_and_back_up(app, clean) -> None:
    with app.app_context():
        downgrade(revision="base")
        with db.engine.connect() as connection:
            tables = set(db.inspect(connection).get_table_names())
        assert tables <= {"alembic_version"}
        upgrade()
        with db.engine.connect() as connection:
            tables = set(db.inspect(connection).get_table_names())
        assert {t.name for t in db.metadata.sorted_tables} <= tables
