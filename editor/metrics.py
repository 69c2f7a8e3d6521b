"""The metrics endpoint's page: the counters of editor.instruments (added up over every process
when ``PROMETHEUS_MULTIPROC_DIR`` is set), and figures read from the database at each scrape,
so they are right whichever process or host did the work: jobs not yet ended and jobs ended in
the last hour (by operation, provider and state), the waiting line and its oldest wait, the
bytes kept for people, and each queue's last heartbeat (editor.health).

Every query here reads an index that holds only what it counts (unfinished jobs, jobs by end
time), so a scrape costs the same with a million jobs ended.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator

from django.db.models import Count, Min, Sum
from django.utils import timezone
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from accounts.models import Quota
from editor import health
from editor.models import UNFINISHED_STATUSES, Job, JobStatus

RECENT = dt.timedelta(hours=1)


class StudioCollector(Collector):
    """Figures read from the database (and the heartbeats from the cache) at each scrape."""

    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        yield from self._jobs(now)
        yield from self._line(now)
        stored = Quota.objects.aggregate(total=Sum("stored_bytes"))["total"] or 0
        yield GaugeMetricFamily(
            "studio_storage_bytes", "Bytes kept for people (photos, results, thumbnails).", stored
        )
        yield from self._workers()

    @staticmethod
    def _jobs(now: dt.datetime) -> Iterator[Metric]:
        under_way = GaugeMetricFamily(
            "studio_jobs",
            "Jobs not yet ended, by operation, provider and state.",
            labels=("operation", "provider", "state"),
        )
        rows = (
            Job.objects.filter(status__in=UNFINISHED_STATUSES)
            .values_list("operation", "provider", "status")
            .annotate(count=Count("id"))
        )
        for operation, provider, status, count in rows:
            under_way.add_metric((operation, provider, status), count)
        yield under_way
        ended = GaugeMetricFamily(
            "studio_jobs_ended_last_hour",
            "Jobs that ended in the last hour, by operation, provider and outcome.",
            labels=("operation", "provider", "state"),
        )
        rows = (
            Job.objects.filter(finished_at__gte=now - RECENT)
            .values_list("operation", "provider", "status")
            .annotate(count=Count("id"))
        )
        for operation, provider, status, count in rows:
            ended.add_metric((operation, provider, status), count)
        yield ended

    @staticmethod
    def _line(now: dt.datetime) -> Iterator[Metric]:
        """Jobs waiting for one of their owner's slots, and jobs due that no worker has taken."""
        length = GaugeMetricFamily(
            "studio_queue_jobs",
            "Jobs waiting: for a slot of their owner's (slot), or due for a worker (worker).",
            labels=("waiting_for",),
        )
        oldest = GaugeMetricFamily(
            "studio_queue_oldest_wait_seconds",
            "How long the longest-waiting job has waited, by what it waits for.",
            labels=("waiting_for",),
        )
        waiting = {
            "slot": Job.objects.filter(status=JobStatus.PENDING).aggregate(
                count=Count("id"), since=Min("created_at")
            ),
            "worker": Job.objects.filter(
                status=JobStatus.QUEUED, due_at__lte=now, lease_until__isnull=True
            ).aggregate(count=Count("id"), since=Min("due_at")),
        }
        for what, found in waiting.items():
            length.add_metric((what,), found["count"])
            since = found["since"]
            oldest.add_metric((what,), (now - since).total_seconds() if since else 0.0)
        yield length
        yield oldest

    @staticmethod
    def _workers() -> Iterator[Metric]:
        seen = GaugeMetricFamily(
            "studio_worker_last_seen_seconds",
            "Seconds since a worker of the queue last took its heartbeat (absent: never seen).",
            labels=("queue",),
        )
        up = GaugeMetricFamily(
            "studio_worker_up",
            "1 when a worker of the queue took its heartbeat lately (editor.health).",
            labels=("queue",),
        )
        for queue, state in health.workers().items():
            if state["last_seen_seconds"] is not None:
                seen.add_metric((queue,), state["last_seen_seconds"])
            up.add_metric((queue,), 1.0 if state["status"] == "ok" else 0.0)
        yield seen
        yield up


def page() -> bytes:
    """The whole scrape, in Prometheus's text format."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        counted = CollectorRegistry()
        MultiProcessCollector(counted)  # type: ignore[no-untyped-call]
    else:
        counted = REGISTRY
    read = CollectorRegistry()
    read.register(StudioCollector())
    return generate_latest(counted) + generate_latest(read)
