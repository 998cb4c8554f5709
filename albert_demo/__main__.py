from albert_demo.cli import main

raise SystemExit(main())
