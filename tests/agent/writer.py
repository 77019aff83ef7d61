"""A log writer process for the agent tests: appends numbered CRI lines to FILES at RATE lines/s,
rotating each file by rename + create every ROTATE lines (keeping the 3 newest rotated files)."""

from __future__ import annotations

import os
import sys
import time


def main() -> None:
    directory, names, total, rate, rotate = sys.argv[1], sys.argv[2].split(","), int(sys.argv[3]), \
        int(sys.argv[4]), int(sys.argv[5])
    files = {n: open(os.path.join(directory, n + ".log"), "a") for n in names}  # noqa: SIM115
    generation = dict.fromkeys(names, 0)
    start = time.monotonic()
    for i in range(total):
        for name in names:
            ts = time.time_ns()
            secs, frac = divmod(ts, 1_000_000_000)
            files[name].write(time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z stdout F {name}-{i}\n")
            if rotate and (i + 1) % rotate == 0:
                files[name].close()
                generation[name] += 1
                base = os.path.join(directory, name + ".log")
                os.rename(base, f"{base}.{generation[name]}")
                old = f"{base}.{generation[name] - 3}"
                if os.path.exists(old):
                    os.unlink(old)
                files[name] = open(base, "a")  # noqa: SIM115
        if i % 100 == 99:
            for f in files.values():
                f.flush()
            ahead = (i + 1) / rate - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
    for f in files.values():
        f.close()


if __name__ == "__main__":
    main()
