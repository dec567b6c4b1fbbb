"""Scale-out on a Ray cluster (the ``cluster`` extra).

Only this package imports Ray, and only when a command is given ``--ray``: the
default install and the single-machine path never load it.
"""
