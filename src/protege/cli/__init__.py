"""The command line: `protege ...`."""

TENSORBOARD_HELP = "Also log every metric for TensorBoard, to RUN_DIR/tensorboard."
"""The --tensorboard flag's help, the same on every trainer."""
