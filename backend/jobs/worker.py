"""`flask --app backend worker`: an RQ worker plus RQ's cron scheduler for the periodic jobs.

The scheduler runs in a child process (it installs its own signal handlers, as the worker
does); jobs run in the worker's process, inside the app context, one transaction each.
Several workers on several machines may run at once: the jobs claim rows with SKIP LOCKED.
"""

from __future__ import annotations

import logging
import multiprocessing

import redis
from flask import current_app
from rq import Queue, SimpleWorker
from rq.cron import CronScheduler

from backend.jobs.tasks import SCHEDULE

log = logging.getLogger(__name__)
QUEUE = "linshan"


def run_scheduler(redis_url: str) -> None:
    """Enqueue each periodic job on its interval (child process)."""
    connection = redis.Redis.from_url(redis_url)
    logging.getLogger("rq.cron").setLevel(logging.WARNING)  # one line per enqueue is noise
    scheduler = CronScheduler(connection=connection)
    for func, seconds in SCHEDULE.items():
        scheduler.register(func, queue_name=QUEUE, interval=seconds)
    scheduler.start()


def run_worker(burst: bool = False, with_scheduler: bool = True) -> None:
    """Work the queue in this process (the app context is already pushed)."""
    connection: redis.Redis = current_app.extensions["redis"]
    queue = Queue(QUEUE, connection=connection)
    child = None
    if with_scheduler:
        child = multiprocessing.get_context("fork").Process(
            target=run_scheduler, args=(current_app.config["REDIS_URL"],), daemon=True
        )
        child.start()
        log.info("cron scheduler started (pid %s)", child.pid)
    if burst:
        # Run every periodic job once, then whatever is queued: for operators and tests.
        for func in SCHEDULE:
            queue.enqueue(func)
    try:
        SimpleWorker([queue], connection=connection).work(
            burst=burst, with_scheduler=False, logging_level="WARNING"
        )
    finally:
        if child is not None and child.is_alive():
            child.terminate()
            child.join(10)
