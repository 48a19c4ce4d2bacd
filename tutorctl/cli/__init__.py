"""The command line: thin Typer commands. Services and rendering are imported lazily, so
``tutorctl --help`` and shell completion never pay for SQLAlchemy."""
