"""Run the QuickFIX/J test exchange by hand (demos, experiments): `python -m connectors.fix_acceptor DATA_DIR`.

Starts a `LocalAcceptor` in DATA_DIR (jars from `OMS_CACHE_DIR`), prints where
initiators connect and where the control port listens, and stops it on Ctrl-C.
Controls: `echo "fill CLORDID 10 99.5" | nc 127.0.0.1 CONTROL_PORT` (see `FixAcceptor.java`).
"""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from connectors.fix_acceptor import LocalAcceptor
from oms.config import Settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--comp-id", default="EXCH", help="the exchange's SenderCompID")
    parser.add_argument("--market-price", default="100", help="where market orders fill")
    parser.add_argument("--reject-symbols", default="", help="comma-separated symbols to reject")
    args = parser.parse_args(argv)
    acceptor = LocalAcceptor(args.data_dir, Settings.from_env().cache_dir, comp_id=args.comp_id,
                             market_price=args.market_price,
                             reject_symbols=tuple(s for s in args.reject_symbols.split(",") if s))
    info = acceptor.start()
    print(f"FIX acceptor {info.comp_id} on {info.host}:{info.port}, controls on {info.host}:{info.control_port}",
          flush=True)
    done = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: done.set())
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        done.wait()
    finally:
        acceptor.stop()


if __name__ == "__main__":
    main()
