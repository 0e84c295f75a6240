"""The ``gslts`` command line: the composition root. It may import every package of the
repo; nothing imports it."""
