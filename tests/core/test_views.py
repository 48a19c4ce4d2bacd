"""The read models' package: every name reachable from ``tutorctl.core.views``, every
top-level view drawn by the one ``render`` registry, ids never optional by accident."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil

import tutorctl.core.views as views

# Views only ever drawn inside another one (a line, a part, a total): no renderer of their own.
PARTS = {
    "BalanceRow", "CancelGroupView", "CancelTotalsView", "DayView", "FundingPartView",
    "HistoryEntryView", "HoursRow", "LedgerLineView", "LessonEventView", "LessonView",
    "MoveLineView", "NewGroupView", "NewTotalsView", "OccupancyRow", "OffLessonView",
    "OperationView", "PackageHoursView", "PersonRef", "ReportPeriod", "RevenueRow",
    "SessionSummaryView", "SettingsView", "SlotView", "TotalsView", "MessageView",
    "SendOutcomeView",
}  # fmt: skip


def _models() -> dict[str, type]:
    found: dict[str, type] = {}
    for info in pkgutil.iter_modules(views.__path__):
        module = importlib.import_module(f"{views.__name__}.{info.name}")
        for name, obj in vars(module).items():
            if inspect.isclass(obj) and dataclasses.is_dataclass(obj):
                if obj.__module__ == module.__name__:
                    found[name] = obj
    return found


def test_every_read_model_is_re_exported() -> None:
    for name, model in _models().items():
        assert getattr(views, name) is model, name


def test_every_top_level_view_has_a_renderer() -> None:
    from tutorctl.render import base, console

    console.load_all()
    missing = [n for n, m in _models().items() if n not in PARTS and m not in base.render.registry]
    assert missing == []
    # render() imports a view's renderers on demand: the module it names is the one that
    # registers them
    misplaced = [
        (n, base.render.dispatch(m).__module__)
        for n, m in _models().items()
        if n not in PARTS
        and base.render.dispatch(m).__module__
        != "tutorctl.render." + console.RENDERERS[m.__module__.rpartition(".")[2]]
    ]
    assert misplaced == []


def test_a_views_own_id_is_never_optional() -> None:
    for name, model in _models().items():
        for f in dataclasses.fields(model):
            if f.name == "id" and name not in ("RevenueRow", "HoursRow"):  # None: the total row
                assert f.type == "int", f"{name}.id is {f.type}"
