"""`track` and `status` as in-store software calls them: a fresh process per call.

Each command runs 20 times (after one warm-up run that validates the config into its cache,
as the daemon's start or any earlier command would); printed: the median and max wall time
and the peak RSS of the process (ru_maxrss from wait4), and the CPU time it used (user +
system): on a loaded machine the wall time mostly measures waiting for a core. The outbox
is a real file with synchronous=FULL, so each `track` includes its fsync.

Python runs with bytecode caches, as on an installed till (the package's postinst compiles
the venv): PYTHONDONTWRITEBYTECODE (set in some shells and sandboxes) is dropped, so the
warm-up run writes the __pycache__ files Python would write on a first run. `--no-bytecode`
measures the other case, every module compiled from source at each start.

Usage: uv run python benchmarks/cli.py [--runs 20] [--no-bytecode]
Targets (issue 12): track median <= 150 ms and <= 35 MB peak; status <= 250 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS = {
    "track": ["track", "evento.asistio", "--profile", "BvYeyVYz", "--meta", "sala=2"],
    "track --phone": ["track", "evento.asistio", "--phone", "099 123 456"],
    "status": ["status"],
}


def once(argv: list[str], env: dict[str, str]) -> tuple[float, int, float]:
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{argv} exited {proc.returncode}: {proc.stderr.read().decode()}")
    return elapsed, usage.ru_maxrss, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--no-bytecode", action="store_true", help="no .pyc caches at all")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "agent.toml"
        config.write_text(f'[outbox]\npath = "{Path(tmp) / "outbox.db"}"\nsynchronous = "full"\n')
        env = {k: v for k, v in os.environ.items() if not k.startswith("HELLOTEXT_")}
        env["XDG_CACHE_HOME"] = str(Path(tmp) / "cache")
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # the warm-up writes what is missing
        if args.no_bytecode:  # an empty cache that stays empty
            env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pyc")
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        entry = [str(Path(sys.executable).with_name("hellotext-agent")), "--config", str(config)]
        caches = "without bytecode caches" if args.no_bytecode else "with bytecode caches"
        print(f"{args.runs} runs each, {caches}; load average {os.getloadavg()[0]:.1f}")
        for name, command in COMMANDS.items():
            once(entry + command, env)  # warm-up: validates the config once, creates the db
            runs = [once(entry + command, env) for _ in range(args.runs)]
            walls = [w * 1000 for w, _, _ in runs]
            peak = max(r for _, r, _ in runs) / 1024
            cpu = statistics.median(c for _, _, c in runs) * 1000
            print(
                f"{name:14} median {statistics.median(walls):6.0f} ms   max {max(walls):6.0f} ms"
                f"   peak RSS {peak:5.1f} MB   CPU median {cpu:4.0f} ms"
            )


if __name__ == "__main__":
    main()
