"""Run the Loki router over a log store in argv[1] on port argv[2] (killed by the crash test)."""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from pharos.logs.api import register
from pharos.storage.logs import LogStore, StoreOptions


def main() -> None:
    store = LogStore(Path(sys.argv[1]), StoreOptions(fsync_interval_s=0.05, flush_interval_ns=10**9))
    store.open()
    app = FastAPI()
    register(app, lambda: store)

    @app.post("/flush")
    def flush() -> dict[str, bool]:
        store.flush()
        return {"ok": True}

    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")


if __name__ == "__main__":
    main()
