from nightcramp.cli import main

raise SystemExit(main())
