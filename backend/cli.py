"""`flask --app backend ...` commands."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app

from backend import embedded
from backend.extensions import db


def register_commands(app: Flask) -> None:
    """Add the project's commands to `flask`."""
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(embedded_group)


@click.command("seed-demo")
def seed_demo_command() -> None:
    """Load the demo city, its funds, spaces and needs (running it again adds nothing)."""
    from backend.demo.seed import seed_demo

    added = seed_demo(progress=lambda line: click.echo(f"  {line}"))
    db.session.commit()
    if any(added.values()):
        click.echo("demo data loaded: " + ", ".join(f"{k} {v}" for k, v in added.items()))
    else:
        click.echo("demo data already present: nothing changed")


@click.group("embedded")
def embedded_group() -> None:
    """The embedded PostgreSQL and Redis used when no URLs are configured."""


@embedded_group.command("status")
def embedded_status() -> None:
    """Say which URLs this app uses."""
    click.echo(f"database: {current_app.config['SQLALCHEMY_DATABASE_URI']}")
    click.echo(f"redis:    {current_app.config['REDIS_URL']}")


@embedded_group.command("stop")
def embedded_stop() -> None:
    """Stop the embedded servers of this instance folder."""
    instance = Path(current_app.instance_path)
    db.engine.dispose()
    current_app.extensions["redis"].close()
    stopped_pg = embedded.stop_postgres(instance)
    stopped_redis = embedded.stop_redis(instance)
    click.echo(f"postgres: {'stopped' if stopped_pg else 'not running'}")
    click.echo(f"redis:    {'stopped' if stopped_redis else 'not running'}")
