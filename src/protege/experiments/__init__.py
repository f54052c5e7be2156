"""Many runs at once: `sweep` (a grid, on a local pool or Ray Tune) and `bench` (named
suites beside the papers' tables), both through `protege.jobs.dispatch`."""
