"""The personal gallery: a person's jobs as cards, newest first, filtered by operation, status
and date, one page at a time (HTMX appends the next page as its link scrolls into view).

A page costs the same number of queries however big the gallery is: one for a page of jobs
(one row more than the page, to know whether another page follows) and one for their results.
Pages are keyset-paginated on (created_at, id): a job submitted while someone scrolls neither
repeats nor hides a card, and a deep page costs what the first one does.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from accounts import periods
from accounts.http import HtmxHttpRequest
from accounts.models import User
from editor import operations
from editor.models import Job, JobStatus, Result

TEMPLATE = "editor/gallery.html"
PAGE_SIZE = 24
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# A date input takes any year up to 9999; no job is older than the epoch or newer than this,
# and clamping keeps "the day after" and time-zone shifts inside what datetime can hold.
LAST_DAY = dt.date(9999, 12, 30)


class GalleryFilters(forms.Form):
    """The gallery's filters, from the query string. Every field is optional; an empty form
    shows everything."""

    operation = forms.ChoiceField(
        label=gettext_lazy("Operation"),
        required=False,
        choices=[
            ("", gettext_lazy("All operations")),
            *((operation.slug, operation.label) for operation in operations.OPERATIONS),
        ],
    )
    status = forms.ChoiceField(
        label=gettext_lazy("Status"),
        required=False,
        choices=[("", gettext_lazy("Any status")), *JobStatus.choices],
    )
    date_from = forms.DateField(
        label=gettext_lazy("From"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    date_to = forms.DateField(
        label=gettext_lazy("To"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        first, last = cleaned.get("date_from"), cleaned.get("date_to")
        if first and last and first > last:
            self.add_error("date_to", _("The end date is before the start date."))
        return cleaned

    def filter(self, query: QuerySet[Job]) -> QuerySet[Job]:
        """``query`` narrowed to the jobs these (valid) filters let through."""
        data = self.cleaned_data
        if data.get("operation"):
            query = query.filter(operation=data["operation"])
        if data.get("status"):
            query = query.filter(status=data["status"])
        # Whole days in the studio's time zone, as bounds on created_at (its index serves them;
        # a __date lookup would not).
        if data.get("date_from"):
            query = query.filter(created_at__gte=_midnight(data["date_from"]))
        if data.get("date_to"):
            query = query.filter(
                created_at__lt=_midnight(min(data["date_to"], LAST_DAY) + dt.timedelta(days=1))
            )
        return query

    @property
    def active(self) -> bool:
        return any(self.data.get(name) for name in self.fields)


def _midnight(day: dt.date) -> dt.datetime:
    return periods.midnight(max(day, EPOCH.date()))


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: after this job, in the gallery's order. Carried in the
    "Load more" link as ``before=<microseconds since the epoch>_<job id>``."""

    created_at: dt.datetime
    pk: uuid.UUID

    @classmethod
    def after(cls, job: Job) -> Cursor:
        return cls(job.created_at, job.pk)

    @classmethod
    def parse(cls, raw: str) -> Cursor | None:
        micros, _sep, pk = raw.partition("_")
        try:
            return cls(EPOCH + dt.timedelta(microseconds=int(micros)), uuid.UUID(pk))
        except (ValueError, OverflowError):
            return None

    @property
    def token(self) -> str:
        micros = (self.created_at - EPOCH) // dt.timedelta(microseconds=1)
        return f"{micros}_{self.pk}"

    def filter(self, query: QuerySet[Job]) -> QuerySet[Job]:
        return query.filter(
            Q(created_at__lt=self.created_at) | Q(created_at=self.created_at, pk__lt=self.pk)
        )


@dataclass(frozen=True)
class Card:
    """One job as the gallery shows it; everything the template reads is already loaded."""

    job: Job
    label: str
    cover: Result | None
    results: int


def _cards(user: User, filters: GalleryFilters, cursor: Cursor | None) -> tuple[list[Card], bool]:
    """A page of the person's jobs, and whether more follow."""
    query = filters.filter(Job.objects.filter(owner=user))
    if cursor is not None:
        query = cursor.filter(query)
    page = list(
        query.order_by("-created_at", "-pk").prefetch_related(
            Prefetch(
                "results",
                queryset=Result.objects.order_by("position"),
                to_attr="gallery_results",
            )
        )[: PAGE_SIZE + 1]
    )
    cards = []
    for job in page[:PAGE_SIZE]:
        results: list[Result] = job.gallery_results
        cards.append(
            Card(
                job=job,
                label=operations.label_of(job.operation),
                cover=results[0] if results else None,
                results=len(results),
            )
        )
    return cards, len(page) > PAGE_SIZE


def _with(request: HttpRequest, **changes: str | None) -> str:
    """The gallery's URL with the current query string, changed."""
    query = request.GET.copy()
    for name, value in changes.items():
        if value is None:
            query.pop(name, None)
        else:
            query[name] = value
    encoded = query.urlencode()
    return f"{reverse('editor:gallery')}?{encoded}" if encoded else reverse("editor:gallery")


@require_GET
@login_required
@vary_on_headers("HX-Request")
def gallery(request: HtmxHttpRequest) -> HttpResponse:
    filters = GalleryFilters(request.GET)
    raw_cursor = request.GET.get("before", "")
    cursor = Cursor.parse(raw_cursor) if raw_cursor else None
    errors: list[str] = []
    if raw_cursor and cursor is None:
        errors.append(_("This link to more results is damaged. Start again from the newest."))
    if not filters.is_valid():
        errors += [
            f"{filters.fields[name].label}: {message}" if name in filters.fields else str(message)
            for name, field_errors in filters.errors.items()
            for message in field_errors
        ]
    cards: list[Card] = []
    more = False
    if not errors:
        cards, more = _cards(request.user, filters, cursor)
    context = {
        "filters": filters,
        "errors": errors,
        "cards": cards,
        "filtered": filters.active,
        "paged": cursor is not None,
        "next_url": _with(request, before=Cursor.after(cards[-1].job).token) if more else "",
        "newest_url": _with(request, before=None),
    }
    template = TEMPLATE
    if request.htmx and not request.htmx.history_restore_request:
        # "Load more" asks for the next cards only; the filter form for the whole result area.
        template = f"{TEMPLATE}#page" if cursor is not None else f"{TEMPLATE}#results"
    # The same URL answers a fragment to HTMX and a page to a browser: Vary tells caches apart,
    # or the back button could show a bare fragment (as on every page that branches on HTMX).
    return render(request, template, context)
