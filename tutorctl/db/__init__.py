"""Persistence: schema, migrations, engines and the one locked unit of work."""
