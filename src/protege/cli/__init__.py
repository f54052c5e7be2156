"""The command line: `protege ...`."""
