"""First run: how soon `make run` serves on a fresh machine, beside how long the demo corpus
takes to load (which is when it served before the load moved beside the server).

    .venv/bin/python -m bench.first_run              # a fresh run, then a later one
    .venv/bin/python -m bench.first_run --help

It runs what `make run` runs once its install is done (`manage.py serve --prepare`) with a
fresh VECSITE_VAR_DIR, so a new embedded database, broker and beat schedule, and times
from the moment the process starts:

* ``serving``: the search page answers 200 (it shows the load's progress);
* ``first_results``: a search on the page returns results (from what has loaded so far);
* ``demo_loaded``: /search/progress says every entry is loaded: the baseline, since a
  server that loads the corpus first could answer no sooner.

Then it stops the server and starts it again on the same data (``later_run``: what every
later `make run` costs). Results: bench/results/first_run.json and first_run.png.
See bench/README.md#first_runpy-make-runs-first-start.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.env import RESULTS_DIR, ROOT, display_path, free_port, loadavg, machine_info
from vecsite.embedded_db import clean

TARGET_SERVING_S = 30.0
QUERY = "parse a JSON document"
POLL_S = 0.25
SEARCH_EVERY_S = 1.5  # the page's rate limit is 60 searches a minute per address


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.first_run",
        description="Seconds from `manage.py serve --prepare` (make run after its install) on a fresh "
        "var/ to the page answering, to a search's first results and to the demo corpus loaded; "
        "then a later run's start on the same data.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="give up on a step after this many seconds")
    parser.add_argument("--keep", action="store_true", help="keep the fresh var/ directory (printed) afterwards")
    parser.add_argument("--output-dir", type=Path, default=RESULTS_DIR)
    return parser.parse_args(argv)


@dataclass
class Server:
    """`manage.py serve --prepare` on a var/ of its own, its output in a log file."""

    var_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "VECSITE_PGDATA", "CELERY_BROKER_URL")}
        env.update(VECSITE_VAR_DIR=str(self.var_dir), DEBUG="0")
        log = (self.var_dir / "serve.log").open("ab")
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--prepare", "--port", str(self.port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def elapsed(self) -> float:
        return round(time.monotonic() - self.started, 2)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            tail = (self.var_dir / "serve.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the server exited with status {self.process.returncode}:\n{tail}")


def wait_until(server: Server, what: str, timeout: float, condition: Callable[[], bool]) -> float:
    """Seconds since the server started when `condition` first held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        server.check_alive()
        try:
            if condition():
                return server.elapsed()
        except httpx.TransportError:
            pass  # not listening yet
        time.sleep(POLL_S)
    raise TimeoutError(f"{what}: not within {timeout:.0f} s (see {server.var_dir / 'serve.log'})")


class PageClient:
    """The page as a browser uses it: a session, its CSRF cookie, form posts."""

    def __init__(self, url: str) -> None:
        self.client = httpx.Client(base_url=url, timeout=30.0)
        self.last_search = 0.0

    def page_ok(self) -> bool:
        return self.client.get("/").status_code == 200

    def progress(self) -> dict[str, Any]:
        answer: dict[str, Any] = self.client.get("/search/progress").json()
        return answer

    def results(self) -> int:
        """How many results a search returns now (0 while nothing is loaded); paced to
        stay inside the page's rate limit."""
        if time.monotonic() - self.last_search < SEARCH_EVERY_S:
            return 0
        self.last_search = time.monotonic()
        token = self.client.cookies.get("csrftoken") or ""
        answer = self.client.post(
            "/search/start",
            data={"q": QUERY, "filter": "", "csrfmiddlewaretoken": token},
            headers={"Referer": f"{self.client.base_url}/", "X-CSRFToken": token},
        )
        if answer.status_code != 200:
            return 0
        batch = answer.json()
        if batch.get("handle"):
            self.client.post(
                "/search/end",
                data={"handle": batch["handle"], "csrfmiddlewaretoken": token},
                headers={"Referer": f"{self.client.base_url}/", "X-CSRFToken": token},
            )
        return len(batch["results"])


def run_server(var_dir: Path, timeout: float, *, until_loaded: bool) -> dict[str, Any]:
    """Start the server on `var_dir`, time it to the page and to a search's results (and,
    with `until_loaded`, to the whole corpus loaded), then stop it."""
    server = Server(var_dir)
    server.start()
    page = PageClient(server.url)
    try:
        times: dict[str, Any] = {
            "serving_s": wait_until(server, "the page", timeout, page.page_ok),
            "first_results_s": wait_until(server, "a search's results", timeout, lambda: page.results() > 0),
        }
        if until_loaded:
            times["progress_at_first_results"] = page.progress()
            times["demo_loaded_s"] = wait_until(
                server, "the demo corpus", timeout, lambda: bool(page.progress()["done"])
            )
            times["demo_entries"] = page.progress()["total"]
    finally:
        server.stop()
    return times


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    first, later = report["first_run"], report["later_run"]
    labels = ["first run:\npage answers", "first run:\nsearch has results", "first run:\ndemo loaded\n(the baseline)"]
    values = [first["serving_s"], first["first_results_s"], first["demo_loaded_s"]]
    labels += ["later run:\npage answers", "later run:\nsearch has results"]
    values += [later["serving_s"], later["first_results_s"]]
    fig, axis = plt.subplots(figsize=(10, 5))
    colors = ["tab:blue", "tab:cyan", "tab:red", "tab:green", "tab:olive"]
    bars = axis.bar(labels, values, color=colors)
    axis.bar_label(bars, fmt="%.1f s")
    axis.axhline(
        TARGET_SERVING_S,
        color="grey",
        linestyle="--",
        linewidth=1,
        label=f"target: serving in {TARGET_SERVING_S:.0f} s",
    )
    axis.set_ylabel("seconds from `manage.py serve --prepare`")
    axis.set_title(
        f"make run on a fresh var/ ({report['first_run']['demo_entries']} demo entries, load avg {report['machine']['loadavg_at_start'][0]})"
    )
    axis.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    var_dir = Path(tempfile.mkdtemp(prefix="vecsite-first-run-"))
    report: dict[str, Any] = {"command": "python -m bench.first_run", "machine": machine_info(), "query": QUERY}
    try:
        print(f"first run on a fresh {var_dir} ...", flush=True)
        report["first_run"] = run_server(var_dir, args.timeout, until_loaded=True)
        print(f"  {report['first_run']}", flush=True)
        print("a later run on the same data ...", flush=True)
        report["later_run"] = run_server(var_dir, args.timeout, until_loaded=False)
        print(f"  {report['later_run']}", flush=True)
    finally:
        if args.keep:
            print(f"kept {var_dir}")
        else:
            clean(var_dir / "pgdata", force=True)  # the embedded server the run left behind
            shutil.rmtree(var_dir, ignore_errors=True)
    first = report["first_run"]
    report["loadavg_at_end"] = loadavg()
    report["ratios"] = {"demo_loaded_over_serving": round(first["demo_loaded_s"] / first["serving_s"], 1)}
    report["target"] = {"serving_s": TARGET_SERVING_S, "met": first["serving_s"] <= TARGET_SERVING_S}
    args.output_dir.mkdir(parents=True, exist_ok=True)
    output = args.output_dir / "first_run.json"
    output.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    plot(report, args.output_dir / "first_run.png")
    print(
        f"serving after {first['serving_s']} s, results after {first['first_results_s']} s, demo loaded after "
        f"{first['demo_loaded_s']} s ({report['ratios']['demo_loaded_over_serving']}x); later run serving after "
        f"{report['later_run']['serving_s']} s. Wrote {display_path(output)} and first_run.png"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
