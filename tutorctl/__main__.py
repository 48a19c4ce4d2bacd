from tutorctl.cli.app import main

raise SystemExit(main())
