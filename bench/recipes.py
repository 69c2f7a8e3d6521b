"""A recipe on a batch, for real, timed: three steps (colorize on PicWish, color migration from
a palette and extend on AILabTools) on 20 photos at once, each step a normal job run by the real
workers against the sandbox over HTTP. Prints figures; passes or fails nothing.

The makespan runs from the batch's start (editor.recipes.run_batch, as the batch form calls it)
to the last photo's last result. For each step, the studio's overhead is the time the step's job
spends in the studio beyond the sandbox's own time: its job's life (created to finished) less
what the sandbox itself takes: the time it spends answering the step's requests, measured
around the sandbox's WSGI app (PicWish's blocking mode and the inline extender do their work
inside the answer), plus the task time (SANDBOX_TASK_MS) of a task that runs between answers
(the color migration). Result downloads are shared out evenly among the steps that make them.
The overhead holds the wait in the line (created to started: 60 jobs on 8 I/O threads), the
turns PicWish's 2 requests a second impose, the polling cadence the vendors advise (AILabTools:
5 s), fitting, storing and the thumbnail; the handoff is the time from one step's end to the
next step's job.

It builds its throwaway world as bench/pipeline.py does (whose helpers it uses): a temporary
VAR_DIR, or the bench's own PostgreSQL database and Redis DB when the environment names them;
the sandbox in a thread of this process, the workers as Procfile.dev runs them.

Run from the project root: ``.venv/bin/python bench/recipes.py`` (bench/run.py runs it as the
``recipes`` section). The figures also go to ``make bench``'s JSON as ``recipe_*``.
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import figures
import pipeline

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

    from editor.models import Job

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PHOTOS = 20
TASK_MS = 1000  # each sandbox task's own time
WAIT_S = 600.0
STEPS = [
    {"operation": "colorize", "provider": "picwish", "settings": {"format": "jpg"}},
    {
        "operation": "color_migration",
        "provider": "ailabtools",
        "settings": {"mode": "TEMPLATE", "color_template": ["C8553D", "2D6A4F", "F2E8CF"]},
    },
    {
        "operation": "extend",
        "provider": "ailabtools",
        "settings": {"top": 0, "bottom": 0, "left": 0.15, "right": 0.15},
    },
]
# Which step a sandbox endpoint (bench/pipeline.py's names) serves. AILabTools' task queries are
# the color migration's alone: the extender answers inline (editor/sandbox/ailabtools.py).
ENDPOINT_STEP: dict[str, int] = {
    "PicWish submit": 1,
    "PicWish poll": 1,
    "AILabTools image-hd-color-migration": 2,
    "AILabTools poll": 2,
    "AILabTools asyn-task-results": 2,
    "AILabTools ai-image-extender": 3,
}
# Result downloads come from the steps whose vendor answers with a URL, shared out evenly.
DOWNLOADING_STEPS = (1, 2)


class SandboxClock:
    """The seconds the sandbox spends answering, by endpoint, around its WSGI app (the answer
    is built before it is returned, so the call's time is the sandbox's)."""

    def __init__(self, app: WSGIApplication) -> None:
        self._app = app
        self._lock = threading.Lock()
        self.seconds: dict[str, float] = {}
        self.requests: Counter[str] = Counter()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        endpoint = pipeline._endpoint(
            str(environ.get("REQUEST_METHOD")), str(environ.get("PATH_INFO"))
        )
        started = time.perf_counter()
        try:
            return list(self._app(environ, start_response))
        finally:
            with self._lock:
                self.seconds[endpoint] = (
                    self.seconds.get(endpoint, 0.0) + time.perf_counter() - started
                )
                self.requests[endpoint] += 1


def sandbox_seconds_per_job(clock: SandboxClock, jobs_per_step: int) -> dict[int, float]:
    """Each step's mean sandbox time a job: its share of the answers, plus the task time for a
    step whose task runs between answers (the color migration; PicWish too when it is polled,
    whereas its blocking mode sleeps the task time inside its answer, measured already)."""
    spent = dict.fromkeys(range(1, len(STEPS) + 1), 0.0)
    for endpoint, seconds in clock.seconds.items():
        sharing = (ENDPOINT_STEP[endpoint],) if endpoint in ENDPOINT_STEP else DOWNLOADING_STEPS
        for step in sharing:
            spent[step] += seconds / len(sharing)
    between = {2} | ({1} if clock.requests.get("PicWish poll") else set())
    return {
        step: seconds / jobs_per_step + (TASK_MS / 1000 if step in between else 0.0)
        for step, seconds in spent.items()
    }


def _mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def _p50(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def bench_recipe(world: pipeline.World) -> None:
    from django.conf import settings

    from editor import recipes, submissions
    from editor.models import RecipeStepRun

    settings.SANDBOX_TASK_MS = TASK_MS
    user = pipeline.make_user("recipes-bench")
    pipeline.make_key(user, "picwish", "sandbox-bench-recipes-picwish")
    # The retired color migration answers only to a key with the colormig marker.
    pipeline.make_key(user, "ailabtools", "sandbox-colormig-bench-recipes")
    recipe = recipes.save(owner=user, name="Bench", steps=STEPS)
    photos = [
        submissions.Photo(pipeline.make_image((320, 240), (90 + n, 90, 90)), f"photo-{n}.jpg")
        for n in range(PHOTOS)
    ]
    app = world.sandbox.server.get_app()
    assert app is not None
    clock = SandboxClock(app)
    world.sandbox.server.set_app(clock)

    started = time.monotonic()
    batch = recipes.run_batch(recipe, user, photos=photos)
    start_s = time.monotonic() - started
    runs = list(batch.runs.all())
    deadline = started + WAIT_S
    while any(recipes.status(run) == "running" for run in runs):
        if time.monotonic() > deadline:
            print(f"bench: the recipe batch did not end within {WAIT_S:.0f} s")
            break
        world.revive()
        time.sleep(0.25)
    makespan = time.monotonic() - started
    world.sandbox.server.set_app(app)

    step_runs = list(RecipeStepRun.objects.filter(run__batch=batch).select_related("job", "run"))
    by_step: dict[int, list[Job]] = {number: [] for number in range(1, len(STEPS) + 1)}
    for step_run in step_runs:
        if step_run.job is not None and step_run.job.finished_at is not None:
            by_step[step_run.index + 1].append(step_run.job)
    ends = {
        (step_run.run_id, step_run.index): step_run.job.finished_at
        for step_run in step_runs
        if step_run.job is not None and step_run.job.finished_at is not None
    }
    statuses = Counter(recipes.status(run) for run in runs)
    sandbox = sandbox_seconds_per_job(clock, PHOTOS)

    print(
        f"\nA 3-step recipe (colorize -> palette color migration -> extend) on {PHOTOS} photos, "
        f"sandbox tasks of {TASK_MS} ms; {statuses['succeeded']} of {PHOTOS} runs done, "
        f"{statuses['stopped']} stopped"
    )
    print(f"  starting the batch (20 first jobs, in the web's place): {start_s:.2f} s")
    ideal = len(STEPS) * TASK_MS / 1000
    print(f"  makespan: {makespan:.1f} s (one photo's three tasks alone: {ideal:.1f} s)")
    print(
        f"  {'step':<22}{'jobs':>5}{'life p50':>10}{'sandbox':>9}{'overhead':>10}"
        f"{'of which line':>15}{'handoff':>9}   (s, means unless p50)"
    )
    figures.record("recipe_photos", PHOTOS)
    figures.record("recipe_makespan_s", round(makespan, 2))
    figures.record("recipe_start_s", round(start_s, 3))
    figures.record("recipe_runs_succeeded", statuses["succeeded"])
    overheads: list[float] = []
    for number, step in enumerate(STEPS, start=1):
        jobs = by_step[number]
        lives = [
            (job.finished_at - job.created_at).total_seconds() for job in jobs if job.finished_at
        ]
        lines = [
            (job.started_at - job.created_at).total_seconds() for job in jobs if job.started_at
        ]
        handoffs = [
            (job.created_at - ends[(step_run.run_id, number - 2)]).total_seconds()
            for step_run in step_runs
            if step_run.index == number - 1
            and (job := step_run.job) is not None
            and (step_run.run_id, number - 2) in ends
        ]
        overhead = _mean(lives) - sandbox[number]
        overheads.append(overhead)
        label = f"{number}. {step['operation']}"
        print(
            f"  {label:<22}{len(jobs):>5}{_p50(lives):>10.2f}{sandbox[number]:>9.2f}"
            f"{overhead:>10.2f}{_mean(lines):>15.2f}"
            f"{(f'{_mean(handoffs):.2f}' if handoffs else '-'):>9}"
        )
        prefix = f"recipe_step{number}"
        figures.record(f"{prefix}_life_p50_s", round(_p50(lives), 3))
        figures.record(f"{prefix}_sandbox_s", round(sandbox[number], 3))
        figures.record(f"{prefix}_overhead_s", round(overhead, 3))
        figures.record(f"{prefix}_line_s", round(_mean(lines), 3))
        if handoffs:
            figures.record(f"{prefix}_handoff_s", round(_mean(handoffs), 3))
    figures.record("recipe_overhead_per_step_s", round(_mean(overheads), 3))
    print(f"  the studio's overhead per step, mean of the three: {_mean(overheads):.2f} s")
    requests = ", ".join(f"{name} {count}" for name, count in sorted(clock.requests.items()))
    print(f"  sandbox requests: {requests}")
    if deaths := world.deaths():
        print(f"  workers that died and were started again: {', '.join(deaths)}")


def main() -> None:
    pipeline.run_in_world("recipes", "Recipes on a batch", bench_recipe)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
