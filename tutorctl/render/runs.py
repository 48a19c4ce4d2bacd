"""What the maintenance commands did: `check`, `expire`, imports."""

from __future__ import annotations

from rich.console import RenderableType
from rich.text import Text

from tutorctl.core.views import CheckView, ExpireView, ImportView
from tutorctl.render.base import render


@render.register
def _(view: CheckView) -> RenderableType:
    counted = ", ".join(f"{n} {k}" for k, n in view.checked.items())
    if view.ok:
        return Text(f"ok: every invariant holds ({counted})")
    return Text(
        "\n".join(
            [
                f"{len(view.violations)} violation(s) ({counted}):",
                *("  " + v for v in view.violations),
            ]
        )
    )


@render.register
def _(view: ExpireView) -> RenderableType:
    return Text(
        f"expired {view.expired_sessions} session(s), failed {view.failed_payments} stale payment(s), "
        f"closed {view.closed_paid_sessions} paid session(s) as applied and "
        f"{view.closed_failed_sessions} failed one(s) as expired, "
        f"abandoned {view.abandoned_operations} operation(s), "
        f"released {view.released_holds} hold(s), marked {view.done_lessons} lesson(s) done "
        f"({view.batches} batch(es))"
    )


@render.register
def _(view: ImportView) -> RenderableType:
    verb = "would write" if view.dry_run else "wrote"
    extra = "".join(f", {k.replace('_', ' ')} {v}" for k, v in view.details.items())
    tail = " (dry run: nothing was written)" if view.dry_run else ""
    return Text(
        f"{view.file}: {view.rows} row(s) read, {verb} {view.written} {view.kind}{extra}{tail}"
    )
