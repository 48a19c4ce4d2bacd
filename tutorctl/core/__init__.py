"""Pure domain logic: importable without SQLAlchemy, rich or a database."""
