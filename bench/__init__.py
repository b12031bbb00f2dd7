"""Benchmarks: ``python -m bench`` (``make bench``).

Each module ``bench/bench_<area>.py`` exposes ``run(opts: Options) -> list[Row]``; ``__main__``
finds them, runs them in one process and prints one table with each row's ratio against the
baseline measured in the same run (see :mod:`bench._common`).
"""
