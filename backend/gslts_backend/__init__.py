"""GSLTS main server and the ``gslts`` command line."""
