"""The entry points of the OMS, on top of every other layer: the `oms` command tree (`entrypoints.cli`),
each process's main (`entrypoints.worker`, `entrypoints.venue`, `entrypoints.marketdata`, each runnable
as `python -m entrypoints.<name>`), the replay command, the demo and the process supervisor.

This is the only layer that reads the environment (`Settings.from_env`, once per process) and makes the
wall clock (`LiveClock`); it passes both down. Nothing below imports from here.
"""
