"""Deprecated name of ``tutorctl.core.calendar`` (weeks, days and slots), kept while the
modules of the other branches of issue 16 still import it; the lead replaces the imports
after the merge and deletes this file."""

from tutorctl.core.calendar import *  # noqa: F403
