from dsu.cli import main

raise SystemExit(main())
