"""Read models: plain dataclasses that services return, the renderer draws and --json dumps.

Field names follow SPEC §6: ids ``id``/``*_id``, money ``*_cents``, durations ``*_minutes``,
instants ISO 8601 with offset, dates ISO, statuses lower-case words.
"""

from tutorctl.core.views.calendar import (
    DayView,
    OffLessonView,
    ScheduleChangeView,
    ScheduleView,
    SlotView,
    TeacherOffView,
)
from tutorctl.core.views.catalog import CategoryListView, CategoryView
from tutorctl.core.views.database import DbInfoView, DbInitView, SettingsView
from tutorctl.core.views.history import HistoryEntryView, HistoryView
from tutorctl.core.views.lessons import (
    FundingPartView,
    LessonDetailView,
    LessonEventView,
    LessonView,
)
from tutorctl.core.views.money import (
    AccountView,
    LedgerLineView,
    LedgerView,
    PayResultView,
    PurchaseLine,
    PurchaseListView,
)
from tutorctl.core.views.people import PersonRef, UserListView, UserView
from tutorctl.core.views.reports import (
    BalanceRow,
    BalancesReport,
    HoursReport,
    HoursRow,
    OccupancyReport,
    OccupancyRow,
    ReportPeriod,
    RevenueReport,
    RevenueRow,
)
from tutorctl.core.views.resume import (
    CancelGroupView,
    CancelTotalsView,
    MoveLineView,
    NewGroupView,
    NewTotalsView,
    PackageHoursView,
    ResumeView,
)
from tutorctl.core.views.runs import CheckView, ExpireView, ImportView
from tutorctl.core.views.sessions import (
    BookingResultView,
    OperationView,
    SessionListView,
    SessionSummaryView,
    SessionView,
)

__all__ = [
    "AccountView",
    "BalanceRow",
    "BalancesReport",
    "BookingResultView",
    "CancelGroupView",
    "CancelTotalsView",
    "CategoryListView",
    "CategoryView",
    "CheckView",
    "DayView",
    "DbInfoView",
    "DbInitView",
    "ExpireView",
    "FundingPartView",
    "HistoryEntryView",
    "HistoryView",
    "HoursReport",
    "HoursRow",
    "ImportView",
    "LedgerLineView",
    "LedgerView",
    "LessonDetailView",
    "LessonEventView",
    "LessonView",
    "MoveLineView",
    "NewGroupView",
    "NewTotalsView",
    "OccupancyReport",
    "OccupancyRow",
    "OffLessonView",
    "OperationView",
    "PackageHoursView",
    "PayResultView",
    "PersonRef",
    "PurchaseLine",
    "PurchaseListView",
    "ReportPeriod",
    "ResumeView",
    "RevenueReport",
    "RevenueRow",
    "ScheduleChangeView",
    "ScheduleView",
    "SessionListView",
    "SessionSummaryView",
    "SessionView",
    "SettingsView",
    "SlotView",
    "TeacherOffView",
    "UserListView",
    "UserView",
]
