"""Read models: plain dataclasses that services return, the renderer draws and --json dumps.

Field names follow SPEC §6: ids ``id``/``*_id``, money ``*_cents``, durations ``*_minutes``,
instants ISO 8601 with offset, dates ISO, statuses lower-case words.

One module a concept; every name is re-exported here, so ``from tutorctl.core.views import
LessonView`` works as well as the module's own path. The modules are imported when a name of
theirs is first asked for, not all with the package: a command builds only its own views
(creating every dataclass of every concept cost a command's start-up ~35 ms, SPEC §9).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tutorctl.core.views.catalog import CategoryListView as CategoryListView
    from tutorctl.core.views.catalog import CategoryView as CategoryView
    from tutorctl.core.views.database import DbInfoView as DbInfoView
    from tutorctl.core.views.database import DbInitView as DbInitView
    from tutorctl.core.views.database import SettingsView as SettingsView
    from tutorctl.core.views.history import HistoryEntryView as HistoryEntryView
    from tutorctl.core.views.history import HistoryView as HistoryView
    from tutorctl.core.views.lessons import FundingPartView as FundingPartView
    from tutorctl.core.views.lessons import LessonDetailView as LessonDetailView
    from tutorctl.core.views.lessons import LessonEventView as LessonEventView
    from tutorctl.core.views.lessons import LessonView as LessonView
    from tutorctl.core.views.money import AccountView as AccountView
    from tutorctl.core.views.money import LedgerLineView as LedgerLineView
    from tutorctl.core.views.money import LedgerView as LedgerView
    from tutorctl.core.views.money import PayResultView as PayResultView
    from tutorctl.core.views.money import PurchaseLine as PurchaseLine
    from tutorctl.core.views.money import PurchaseListView as PurchaseListView
    from tutorctl.core.views.notify import MessageListView as MessageListView
    from tutorctl.core.views.notify import MessageShowView as MessageShowView
    from tutorctl.core.views.notify import MessageView as MessageView
    from tutorctl.core.views.notify import NotifySendView as NotifySendView
    from tutorctl.core.views.notify import ReceiptView as ReceiptView
    from tutorctl.core.views.notify import RetryView as RetryView
    from tutorctl.core.views.notify import SendOutcomeView as SendOutcomeView
    from tutorctl.core.views.people import PersonRef as PersonRef
    from tutorctl.core.views.people import UserListView as UserListView
    from tutorctl.core.views.people import UserView as UserView
    from tutorctl.core.views.reports import BalanceRow as BalanceRow
    from tutorctl.core.views.reports import BalancesReport as BalancesReport
    from tutorctl.core.views.reports import HoursReport as HoursReport
    from tutorctl.core.views.reports import HoursRow as HoursRow
    from tutorctl.core.views.reports import OccupancyReport as OccupancyReport
    from tutorctl.core.views.reports import OccupancyRow as OccupancyRow
    from tutorctl.core.views.reports import ReportPeriod as ReportPeriod
    from tutorctl.core.views.reports import RevenueReport as RevenueReport
    from tutorctl.core.views.reports import RevenueRow as RevenueRow
    from tutorctl.core.views.resume import CancelGroupView as CancelGroupView
    from tutorctl.core.views.resume import CancelTotalsView as CancelTotalsView
    from tutorctl.core.views.resume import MoveLineView as MoveLineView
    from tutorctl.core.views.resume import NewGroupView as NewGroupView
    from tutorctl.core.views.resume import NewTotalsView as NewTotalsView
    from tutorctl.core.views.resume import PackageHoursView as PackageHoursView
    from tutorctl.core.views.resume import ResumeView as ResumeView
    from tutorctl.core.views.resume import TotalsView as TotalsView
    from tutorctl.core.views.runs import CheckView as CheckView
    from tutorctl.core.views.runs import ExpireView as ExpireView
    from tutorctl.core.views.runs import ImportView as ImportView
    from tutorctl.core.views.schedule import DayView as DayView
    from tutorctl.core.views.schedule import OffLessonView as OffLessonView
    from tutorctl.core.views.schedule import ScheduleChangeView as ScheduleChangeView
    from tutorctl.core.views.schedule import ScheduleView as ScheduleView
    from tutorctl.core.views.schedule import SlotView as SlotView
    from tutorctl.core.views.schedule import TeacherOffView as TeacherOffView
    from tutorctl.core.views.sessions import BookingResultView as BookingResultView
    from tutorctl.core.views.sessions import OperationView as OperationView
    from tutorctl.core.views.sessions import SessionListView as SessionListView
    from tutorctl.core.views.sessions import SessionSummaryView as SessionSummaryView
    from tutorctl.core.views.sessions import SessionView as SessionView

# each name, the module that defines it
_MODULES = {
    "CategoryListView": "catalog",
    "CategoryView": "catalog",
    "DbInfoView": "database",
    "DbInitView": "database",
    "SettingsView": "database",
    "HistoryEntryView": "history",
    "HistoryView": "history",
    "FundingPartView": "lessons",
    "LessonDetailView": "lessons",
    "LessonEventView": "lessons",
    "LessonView": "lessons",
    "AccountView": "money",
    "LedgerLineView": "money",
    "LedgerView": "money",
    "PayResultView": "money",
    "PurchaseLine": "money",
    "PurchaseListView": "money",
    "MessageListView": "notify",
    "MessageShowView": "notify",
    "MessageView": "notify",
    "NotifySendView": "notify",
    "ReceiptView": "notify",
    "RetryView": "notify",
    "SendOutcomeView": "notify",
    "PersonRef": "people",
    "UserListView": "people",
    "UserView": "people",
    "BalanceRow": "reports",
    "BalancesReport": "reports",
    "HoursReport": "reports",
    "HoursRow": "reports",
    "OccupancyReport": "reports",
    "OccupancyRow": "reports",
    "ReportPeriod": "reports",
    "RevenueReport": "reports",
    "RevenueRow": "reports",
    "CancelGroupView": "resume",
    "CancelTotalsView": "resume",
    "MoveLineView": "resume",
    "NewGroupView": "resume",
    "NewTotalsView": "resume",
    "PackageHoursView": "resume",
    "ResumeView": "resume",
    "TotalsView": "resume",
    "CheckView": "runs",
    "ExpireView": "runs",
    "ImportView": "runs",
    "DayView": "schedule",
    "OffLessonView": "schedule",
    "ScheduleChangeView": "schedule",
    "ScheduleView": "schedule",
    "SlotView": "schedule",
    "TeacherOffView": "schedule",
    "BookingResultView": "sessions",
    "OperationView": "sessions",
    "SessionListView": "sessions",
    "SessionSummaryView": "sessions",
    "SessionView": "sessions",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # asked once
    return value


def __dir__() -> list[str]:
    return sorted(_MODULES)
