"""Running the OMS worker process (order engine, position manager, marks).

The worker's local RocksDB stores are a cache of the changelog topics. After a
clean stop they are reused; after an unclean one (kill -9, crash) they may hold
writes of a transaction that never committed, so they are thrown away and
rebuilt from the changelogs, which hold only committed state.
"""

from __future__ import annotations

import logging
import shutil
import sys

import faust

from oms.config import Settings
from processors.app import WorkerOptions, app_id, create_app
from streams.topics import Topics

log = logging.getLogger("oms.worker")


def run_worker(settings: Settings, bootstrap_servers: str, options: WorkerOptions = WorkerOptions(),
               loglevel: str = "warning") -> int:
    name = app_id(Topics(settings.topic_prefix))
    datadir = settings.home / "worker" / name
    marker = settings.home / "worker" / f"{name}.clean"
    if datadir.exists() and not marker.exists():
        log.warning("previous stop was not clean: rebuilding state stores from the changelogs")
        shutil.rmtree(datadir)
    marker.unlink(missing_ok=True)
    datadir.parent.mkdir(parents=True, exist_ok=True)
    app = create_app(settings, bootstrap_servers, options=options)
    worker = faust.Worker(app, loglevel=loglevel, quiet=True, override_logging=False)
    code = 1
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    if code == 0:
        marker.touch()
    return code


def main(argv: list[str] | None = None) -> int:
    import argparse

    from oms.routing import StaticRouter
    from streams.runtime import connect

    parser = argparse.ArgumentParser(prog="oms worker", description=__doc__.splitlines()[0])
    parser.add_argument("--route", default="", help="venue per instrument, e.g. AAPL=SIM-A,MSFT=SIM-B")
    parser.add_argument("--default-venue", default="SIM")
    parser.add_argument("--loglevel", default="warning")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    rt = connect(settings)
    rt.ensure_topics()
    options = WorkerOptions(router=StaticRouter.parse(args.route, args.default_venue))
    return run_worker(settings, rt.bootstrap_servers, options, args.loglevel)


if __name__ == "__main__":
    sys.exit(main())
