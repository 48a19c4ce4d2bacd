"""``tutorctl report …`` (SPEC §10): revenue, hours, balances and occupancy.

Every report is a few set-based statements: the database filters the period through an index
and groups (``GROUP BY``); Python only names the groups and adds up the few grouped rows into
the total. One module a report; the period (``--month``/``--from``/``--to``) is its own.
"""

from tutorctl.services.reports.balances import balances
from tutorctl.services.reports.hours import HOURS_BY, hours
from tutorctl.services.reports.occupancy import occupancy
from tutorctl.services.reports.period import Period, parse_month, period
from tutorctl.services.reports.revenue import ACCOUNT_ROW, REVENUE_BY, revenue

__all__ = [
    "ACCOUNT_ROW",
    "HOURS_BY",
    "REVENUE_BY",
    "Period",
    "balances",
    "hours",
    "occupancy",
    "parse_month",
    "period",
    "revenue",
]
