"""The applications on top of `colorization` and `data_pipeline`.

The `colorization` command (`colorize`, `evaluate`, `demo`; also
`python -m colorization_apps`), the `colorize` shortcut and the
`colorization-data` command. Their modules import Keras and TensorFlow only
when a command runs, so `--help` answers at once.
"""
