"""Cold start of each Lambda handler against a naive handler, both from the layer `sam build` ships.

    make sam-build && python bench/cold_start.py [--runs 15] [--python python3.13]

Each sample is a fresh Python process (`-I -B`: no user site, no bytecode written, as on Lambda where
/opt and /var/task are read-only) with the built layer (.aws-sam/build/BridgeLayer/python) and the
function's code on sys.path. Two figures per handler, timed inside the process:

- import: `import app` of functions/<name>/app.py;
- import + setup: that plus the first invocation's set-up, i.e. the function's wiring builder
  (settings read, boto3 clients and adapters constructed; no network call is made).

The yardstick is bench/naive_handler.py (boto3, httpx, pydantic, Powertools Logger/Tracer/Metrics,
REST resolver and idempotency, one boto3 client), from the same layer and copied with no
`__pycache__`, so it pays the compilation a default `sam build` layer makes every cold start pay.
Prints medians and ratios to the naive median.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYER = ROOT / ".aws-sam" / "build" / "BridgeLayer" / "python"

# Handler -> (wiring module, builder the first invocation calls).
HANDLERS: dict[str, tuple[str, str]] = {
    "api": ("runway_bridge.wiring.api", "get_api_services"),
    "authorizer": ("runway_bridge.wiring.authorizer", "get_authenticator"),
    "copy_outputs": ("runway_bridge.wiring.copy", "get_copier"),
    "deliver_webhook": ("runway_bridge.wiring.notifications", "get_delivery"),
    "poll_due": ("runway_bridge.wiring.poller", "get_poller_service"),
    "publish_events": ("runway_bridge.wiring.notifications", "get_relay"),
    "submit_event": ("runway_bridge.wiring.submit_event", "get_event_submission"),
}

# Runs in the fresh process: argv = code dir, native overlay dir, layer dir, module, wiring module,
# builder ("" = the naive handler's setup()).
CHILD = r"""
import sys, time, json, importlib
code, overlay, layer, module, wiring, builder = sys.argv[1:7]
sys.path[:0] = [code, overlay, layer]
t0 = time.perf_counter()
mod = importlib.import_module(module)
t1 = time.perf_counter()
if builder:
    getattr(importlib.import_module(wiring), builder)()
else:
    mod.setup()
t2 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "setup": t2 - t0}))
"""

# What Lambda sets (region, credentials, tracing) plus an endpoint where nothing listens: clients are
# built, never used.
CHILD_ENV = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_SESSION_TOKEN": "bench",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "AWS_LAMBDA_FUNCTION_NAME": "bench",
    "_X_AMZN_TRACE_ID": "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0",
    "POWERTOOLS_SERVICE_NAME": "runway-bridge",
    "POWERTOOLS_METRICS_NAMESPACE": "RunwayBridge",
    "POWERTOOLS_LOG_LEVEL": "INFO",
}


def default_python() -> str:
    return (shutil.which("python3.13") and _works("python3.13")) or sys.executable


def _works(name: str) -> str | None:
    try:
        out = subprocess.run(
            [name, "-c", "import sys; print(sys.executable)"], check=False, capture_output=True, text=True
        )
    except OSError:
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def native_overlay(layer: Path, python: str, into: Path, compiled: bool) -> None:
    """The layer is built for arm64; on another machine its compiled extensions (pydantic_core, wrapt)
    cannot load. Put the same packages for this machine (from the project's venv, same pinned versions)
    in front of it; everything else comes from the layer."""
    into.mkdir()
    suffixes = subprocess.run(
        [python, "-c", "import importlib.machinery as m; print(' '.join(m.EXTENSION_SUFFIXES))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    venv_sites = list((ROOT / ".venv" / "lib").glob("python*/site-packages"))
    for ext in layer.glob("*/*.so"):
        if any(ext.name.endswith(suffix) for suffix in suffixes if suffix != ".so"):
            continue
        package = ext.parent.name
        source = next((site / package for site in venv_sites if (site / package).is_dir()), None)
        if source is None:
            raise SystemExit(
                f"{ext} is not for this machine and .venv has no {package}: run `make dev` first"
            )
        shutil.copytree(source, into / package, ignore=shutil.ignore_patterns("__pycache__"))
    if compiled:
        subprocess.run(
            [python, "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash", str(into)], check=True
        )


def sample(
    python: str, code: Path, overlay: Path, layer: Path, module: str, wiring: str, builder: str
) -> dict[str, float]:
    out = subprocess.run(
        [python, "-I", "-B", "-c", CHILD, str(code), str(overlay), str(layer), module, wiring, builder],
        capture_output=True,
        text=True,
        env=CHILD_ENV,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"{module} failed in a fresh process:\n{out.stderr}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--python", default=None, help="interpreter (default: python3.13, else this one)")
    parser.add_argument("--layer", type=Path, default=LAYER)
    parser.add_argument("--only", nargs="*", default=None, help="handlers to measure (default: all)")
    args = parser.parse_args()
    python = args.python or default_python()
    if not (args.layer / "runway_bridge").is_dir():
        raise SystemExit(f"no built layer at {args.layer}: run `make sam-build` first")
    compiled = any(args.layer.glob("boto3/__pycache__/*.pyc"))
    handlers = args.only or list(HANDLERS)

    with tempfile.TemporaryDirectory() as tmp:
        # Handler code as `make sam-build` ships it (with its bytecode, if any) when that is beside the
        # layer, else the source; read-only in effect, as -B writes nothing.
        codes: dict[str, Path] = {}
        for name in handlers:
            codes[name] = Path(tmp) / name
            built = args.layer.parent.parent / (
                "".join(part.title() for part in name.split("_")) + "Function"
            )
            if built.is_dir():
                shutil.copytree(built, codes[name])
            else:
                shutil.copytree(
                    ROOT / "functions" / name, codes[name], ignore=shutil.ignore_patterns("__pycache__")
                )
        naive_code = Path(tmp) / "naive"
        naive_code.mkdir()
        shutil.copy(ROOT / "bench" / "naive_handler.py", naive_code / "naive_handler.py")
        # The naive handler's layer: the same one with no bytecode at all (a default `sam build`).
        overlay = Path(tmp) / "native"
        native_overlay(args.layer, python, overlay, compiled)
        naive_overlay = Path(tmp) / "native-naive"
        native_overlay(args.layer, python, naive_overlay, False)
        naive_layer = args.layer
        if compiled:
            naive_layer = Path(tmp) / "layer"
            shutil.copytree(args.layer, naive_layer, ignore=shutil.ignore_patterns("__pycache__"))

        naive: dict[str, list[float]] = {"import": [], "setup": []}
        runs: dict[str, dict[str, list[float]]] = {name: {"import": [], "setup": []} for name in handlers}
        # Interleaved, so load on the machine falls on every column alike.
        for _ in range(args.runs):
            for key, value in sample(
                python, naive_code, naive_overlay, naive_layer, "naive_handler", "", ""
            ).items():
                naive[key].append(value)
            for name in handlers:
                wiring, builder = HANDLERS[name]
                for key, value in sample(
                    python, codes[name], overlay, args.layer, "app", wiring, builder
                ).items():
                    runs[name][key].append(value)

    version = subprocess.run(
        [python, "-c", "import sys; print(sys.version.split()[0])"],
        check=False,
        capture_output=True,
        text=True,
    )
    base = statistics.median(naive["setup"])
    print(
        f"python {version.stdout.strip()}, {args.runs} runs, layer {args.layer}"
        f" ({'with' if compiled else 'without'} bytecode)"
    )
    print(
        f"naive handler (no bytecode): import {statistics.median(naive['import']) * 1000:.0f} ms, "
        f"import + one client {base * 1000:.0f} ms (the 1.00x below)"
    )
    print(f"{'handler':<16} {'import ms':>10} {'ratio':>7} {'+setup ms':>10} {'ratio':>7}")
    for name in handlers:
        imp = statistics.median(runs[name]["import"])
        setup = statistics.median(runs[name]["setup"])
        print(
            f"{name:<16} {imp * 1000:>10.0f} {imp / base:>6.2f}x {setup * 1000:>10.0f} {setup / base:>6.2f}x"
        )


if __name__ == "__main__":
    main()
