"""`flask --app backend worker`: an RQ worker plus RQ's cron scheduler for the periodic jobs.

The scheduler runs in a child process (it installs its own signal handlers, as the worker
does); jobs run in the worker's process, inside the app context, one transaction each.
Several workers on several machines may run at once: the jobs claim rows with SKIP LOCKED.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import time

import redis
from flask import current_app
from rq import Queue, SimpleWorker
from rq.cron import CronScheduler

from backend.jobs.tasks import SCHEDULE

log = logging.getLogger(__name__)
QUEUE = "linshan"


#: seconds before working again after Redis was lost (RQ gives up at its first Redis error)
REDIS_RETRY_SECONDS = 5


def _pause_after_redis_loss() -> None:
    """Wait before trying Redis again; a signal meanwhile ends the process at once (RQ's
    handlers, still installed, would raise into the sleep)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    time.sleep(REDIS_RETRY_SECONDS)


def run_scheduler(redis_url: str) -> None:
    """Enqueue each periodic job on its interval (child process); a Redis outage pauses it
    rather than ending it."""
    logging.getLogger("rq.cron").setLevel(logging.WARNING)  # one line per enqueue is noise
    while True:
        connection = redis.Redis.from_url(redis_url)
        scheduler = CronScheduler(connection=connection)
        for func, seconds in SCHEDULE.items():
            scheduler.register(func, queue_name=QUEUE, interval=seconds)
        try:
            scheduler.start()
            return  # stopped by a signal
        except redis.RedisError as exc:
            log.error("cron scheduler lost Redis (%s); starting again in %s s",
                      exc.__class__.__name__, REDIS_RETRY_SECONDS)  # fmt: skip
        finally:
            connection.close()
        _pause_after_redis_loss()


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
        while True:
            worker = None
            try:
                worker = SimpleWorker([queue], connection=connection)
                worker.work(burst=burst, with_scheduler=False, logging_level="WARNING")
            except redis.RedisError as exc:
                if burst:
                    raise
                log.error("worker lost Redis (%s)", exc.__class__.__name__)
            # RQ also returns, without a signal, when Redis went away under a job.
            if burst or getattr(worker, "_shutdown_requested_date", None) is not None:
                break
            log.error("worker stopped without being asked; working again in %s s",
                      REDIS_RETRY_SECONDS)  # fmt: skip
            _pause_after_redis_loss()
    finally:
        if child is not None and child.is_alive():
            child.terminate()
            child.join(10)
