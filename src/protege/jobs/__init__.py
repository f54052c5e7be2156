"""Jobs: "train X into a run directory", the layer between the CLI and the library.

`catalog` names every algorithm once (no torch); `common` holds what every job shares
(config.json, demonstrations, evaluation); one module per family (`bc`, `dagger`,
`tabular`, `adversarial`, `qlearning`, `ranking`, `transfer`); `dispatch` is the only
name-to-family switch, used by re-runs, evaluation, sweeps and benches.
"""
