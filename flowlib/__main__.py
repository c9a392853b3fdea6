from flowlib.cli import main

raise SystemExit(main())
