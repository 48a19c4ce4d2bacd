"""tutorctl: the booking back office of a tutoring school, as a command-line tool.

The package is both a library and a CLI:

- ``tutorctl.core``     pure domain logic (time grid, money, errors): no database, no display
- ``tutorctl.db``       schema, migrations, engines and the one locked unit of work
- ``tutorctl.services`` the operations; each takes the transaction first and never commits
- ``tutorctl.render``   rich renderables and JSON built from plain read models
- ``tutorctl.cli``      thin Typer commands: parse, open one transaction, call one service, render
"""

__version__ = "0.1.0"
