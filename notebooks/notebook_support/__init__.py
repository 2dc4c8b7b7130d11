"""Support code of the paper-reproduction notebooks: verdicts, the photo split and plots.

Not part of the library: the notebooks import it from their own folder
(`notebooks/`), and the tests put that folder on `sys.path`.
"""
