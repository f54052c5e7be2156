"""The command line: `protege ...` (apps and shared helpers in `app`, entry point in `main`)."""
