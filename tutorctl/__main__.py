from tutorctl.cli.app import run

run()
