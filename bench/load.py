"""The explorer under load: many gradio_client clients at once, then a burst beyond the queue.

    python bench/load.py [--model pretrained] [--clients 50] [--calls 20] [--rounds 3] [--burst 200] [--refused 100]
    python bench/load.py --url http://127.0.0.1:7860/ [--pid PID]      # an app that is already running

Starts `python app.py` on a free 127.0.0.1 port (the tests' `running_app`), with a Gradio cache and a
temporary folder of its own so that its disk use can be measured. Each round, --clients clients start
together as page loads do (the page's /samples, all at once), then make --calls − 1 more calls each, mixed
over every named endpoint with valid arguments drawn from a few seeds, so identical outputs recur. Each
call is bounded by --call-timeout and each round by --round-timeout (a call not made in time is a failure).
Prints every failure with its message, p50/p95/max per endpoint, the server's resident memory before and
after each round, and the files in Gradio's cache. Then --burst clients send one heavy call each at once:
every one must get its result or a clean "queue is full" refusal, and the server must answer afterwards.
Before the burst, --refused requests carry a 1 MB value: each must be refused with a short message and a
short log line. Last, the server is stopped (SIGTERM): nothing it cached or wrote may be left.
Exit status 1 on any failure.
"""

import argparse
import collections
import concurrent.futures
import contextlib
import os
import random
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from gradio_client import Client
from gradio_client.utils import QueueError

REPO = Path(__file__).resolve().parents[1]
PAGE_LOAD = "/samples (page load)"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
SERVER_LOG_ERRORS = ("Traceback", "Too little data", "Exception in ASGI")


def rss_mb(pid: int | None) -> float | None:
    """Resident memory of process `pid` in MB (from /proc), or None."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, TypeError):
        pass
    return None


def child_app_pid() -> int | None:
    """The pid of the `app.py` this process started."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError):
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            if parent == os.getpid() and b"app.py" in (stat.parent / "cmdline").read_bytes():
                return int(stat.parent.name)
    return None


def files(folder: Path | None) -> set[Path]:
    """The files under `folder` (os.walk passes over what is deleted while it looks)."""
    return {Path(root, name) for root, _, names in os.walk(folder) for name in names} if folder else set()


def disk(folder: Path | None) -> tuple[int, float]:
    """Files under `folder` and their size in MB."""
    sizes = []
    for path in files(folder):
        with contextlib.suppress(OSError):
            sizes.append(path.stat().st_size)
    return len(sizes), sum(sizes) / 2**20


class Calls:
    """Valid arguments for every named endpoint, from a few seeds so that identical outputs recur."""

    def __init__(self, client: Client):
        info = client.predict(api_name="/model_info")
        self.classes = list(info.get("class_names") or []) if info.get("num_classes") else []
        self.limits = info["direction_limits"]
        first = self.classes[0] if self.classes else None
        self.page_load = (0, 16, 1.0, first, False)  # what the page draws when it opens
        self.latents = [client.predict(*self.view(random.Random(seed)), api_name="/render")[2] for seed in range(4)]
        self.makers = {
            "/render": (4, self.view),
            "/render_latent": (1, lambda rng: (rng.choice(self.latents),)),
            "/previews": (2, self.view),
            "/classes": (2, self.view),
            "/class_morph": (1, lambda rng: (rng.choice(self.latents), rng.choice(self.classes), rng.choice([8, 32]))),
            "/samples": (2, lambda rng: (rng.choice([0, 16]), 16, rng.choice([1.0, 0.8]), self.a_class(rng), False)),
            "/interpolate": (1, lambda rng: ("1", rng.choice(["2", *self.latents]), 16, self.mode(rng), None)),
            "/interpolation_frame": (1, self.frame),
            "/arithmetic": (1, lambda rng: ("3, 8, 12", "5", rng.choice(self.latents), None)),
            "/open_link": (1, lambda rng: (f"seed={rng.randrange(8)}&psi=0.8&d1={self.limits[0][1] / 2}",)),
            "/random_seed": (1, lambda rng: ()),
            "/model_info": (1, lambda rng: ()),
        }
        if not self.classes:
            del self.makers["/classes"], self.makers["/class_morph"]
        self.burst = ("1", "2", 120, "slerp", None)  # the heaviest valid call: a 120-frame animation

    def frame(self, rng) -> tuple:
        return "1", rng.choice(self.latents), self.mode(rng), None, rng.random()

    def a_class(self, rng):
        return rng.choice(self.classes) if self.classes else None

    @staticmethod
    def mode(rng):
        return rng.choice(["slerp", "lerp"])

    def view(self, rng) -> tuple:
        strengths = [0.0] * len(self.limits)
        if rng.random() < 0.5:
            i = rng.randrange(len(strengths))
            strengths[i] = self.limits[i][rng.randrange(2)] / 2
        return (rng.randrange(8), rng.choice([1.0, 0.7]), self.a_class(rng), "", *strengths)

    def plans(self, clients: int, calls: int, seed: int) -> list[list[tuple[str, tuple]]]:
        """Each client's calls: the page load, then `calls` − 1 mixed calls, dealt so that the round's first
        calls are one per endpoint, the rest drawn by weight."""
        names = list(self.makers)
        weights = [self.makers[name][0] for name in names]
        plans = []
        for index in range(clients):
            rng = random.Random(seed * 100_003 + index)
            plan = [(PAGE_LOAD, self.page_load)]
            for k in range(calls - 1):
                position = k * clients + index
                name = names[position] if position < len(names) else rng.choices(names, weights)[0]
                plan.append((name, self.makers[name][1](rng)))
            plans.append(plan)
        return plans


def call(client: Client, endpoint: str, arguments, timeout: float) -> tuple[float, str | None]:
    """(milliseconds, None) for a call that returned with its files downloaded, else (ms, what went wrong)."""
    start = time.perf_counter()
    job = client.submit(*arguments, api_name=endpoint)
    try:
        job.result(timeout=timeout)
        error = None
    except concurrent.futures.TimeoutError:
        job.cancel()
        error = f"no answer in {timeout:g} s"
    except Exception as failure:  # noqa: BLE001 - every failure is reported, whatever its kind
        error = f"{type(failure).__name__}: {failure}"
    return 1000 * (time.perf_counter() - start), error


def clients(url: str, count: int, downloads: Path, timeout: float) -> list[Client]:
    """`count` clients, each its own session. Their HTTP requests wait up to `timeout` like a browser's, not the
    5 s of gradio_client's default (httpx's), which a CPU-starved server misses while it is merely slow."""

    def client(_):
        return Client(url, verbose=False, download_files=str(downloads), httpx_kwargs={"timeout": timeout})

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        return list(pool.map(client, range(count)))


def close(all_clients: list[Client]) -> None:
    for client in all_clients:
        client.close()


def load_round(url, calls: Calls, args, number: int, downloads: Path) -> dict[str, list]:
    """One round: every client opens the page at once, then makes its mixed calls. {endpoint: [(ms, error)]}."""
    results = collections.defaultdict(list)
    lock = threading.Lock()
    users = clients(url, args.clients, downloads, args.call_timeout)
    start = threading.Barrier(len(users))
    deadline = time.monotonic() + args.round_timeout

    def user(client: Client, plan) -> None:
        start.wait()
        for label, arguments in plan:
            endpoint = label.split()[0]
            if time.monotonic() > deadline:
                outcome = (0.0, f"not made: the round ran past {args.round_timeout:g} s")
            else:
                outcome = call(client, endpoint, arguments, args.call_timeout)
            with lock:
                results[label].append(outcome)

    plans = calls.plans(len(users), args.calls, number)
    together(user, zip(users, plans, strict=True))
    close(users)
    return results


def burst(url, calls: Calls, count: int, timeout: float, downloads: Path) -> collections.Counter:
    """`count` clients send the heaviest call at once: each is answered or refused as the queue is full."""
    users = clients(url, count, downloads, timeout)
    start = threading.Barrier(len(users))
    outcomes = collections.Counter()
    lock = threading.Lock()

    def user(client):
        start.wait()
        try:
            client.submit(*calls.burst, api_name="/interpolate").result(timeout=timeout)
            outcome = "answered"
        except QueueError as error:
            outcome = f"refused: {error}"
        except Exception as error:  # noqa: BLE001 - anything but an answer or a queue-full refusal fails
            outcome = f"FAILED: {type(error).__name__}: {error}"
        with lock:
            outcomes[outcome] += 1

    together(user, ((client,) for client in users))
    close(users)
    return outcomes


def together(target, arguments) -> None:
    """Call `target` with each tuple of `arguments`, each in a thread of its own, and wait for all of them."""
    threads = [threading.Thread(target=target, args=args) for args in arguments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def large_values(client: Client, count: int, pid: int | None, log: Path | None) -> list[tuple[str, str]]:
    """`count` requests each with a 1 MB value, which the app must refuse with a short message and one short
    log line, without holding on to the value."""
    value, memory, logged = "9" * 1_000_000, rss_mb(pid), log.stat().st_size if log else 0
    problems = []
    for _ in range(count):
        try:
            client.predict(value, api_name="/open_link")
            problems.append(("refused", "a 1 MB link query was accepted"))
        except Exception as error:  # noqa: BLE001 - the refusal itself is what is measured
            if len(str(error)) > 500:
                problems.append(("refused", f"a {len(str(error))}-character message: {str(error)[:100]}…"))
    per_request = ((log.stat().st_size if log else 0) - logged) / count
    print(f"refused: {count} requests with a 1 MB value; server memory {memory or float('nan'):.1f} → "
          f"{rss_mb(pid) or float('nan'):.1f} MB, log +{per_request:.0f} bytes per request")  # fmt: skip
    if log and per_request > 1000:
        problems.append(("refused", f"{per_request:.0f} bytes of log per request"))
    for (_, problem), times in collections.Counter(problems).most_common():
        print(f"FAILED {times} × {problem}")
    return problems


def table(results: dict[str, list]) -> list[str]:
    lines = [f"{'endpoint':<24}{'calls':>7}{'failed':>8}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}"]
    for label in sorted(results, key=lambda name: (name != PAGE_LOAD, name)):
        times = [ms for ms, error in results[label] if error is None] or [float("nan")]
        failed = sum(error is not None for _, error in results[label])
        p50, p95 = np.percentile(times, [50, 95])
        lines.append(f"{label:<24}{len(results[label]):>7}{failed:>8}{p50:>9.0f}{p95:>9.0f}{max(times):>9.0f}")
    return lines


@contextlib.contextmanager
def server(args, work: Path):
    """(url, pid, cache folder, temp folder, log) of the app under test."""
    if args.url:
        if urllib.parse.urlparse(args.url).hostname not in LOOPBACK:
            raise SystemExit("bench/load.py: --url must be on this machine (127.0.0.1 or localhost)")
        yield args.url, args.pid, None, None, None
        return
    from tests.conftest import running_app  # the tests' way of starting the app: a free loopback port

    cache, temp, log = work / "gradio-cache", work / "tmp", work / "server.log"
    cache.mkdir()
    temp.mkdir()
    env = {**os.environ, "GRADIO_TEMP_DIR": str(cache), "TMPDIR": str(temp)}
    with running_app(args.model, env=env, log_path=log) as url:
        yield url, child_app_pid(), cache, temp, log


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(REPO / "pretrained"), help="model the app serves (default: bundled)")
    parser.add_argument("--url", help="load an app that is already running on this machine instead")
    parser.add_argument("--pid", type=int, help="with --url: the server's process id, to read its memory")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients per round")
    parser.add_argument("--calls", type=int, default=20, help="calls per client per round (the first: a page load)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of --clients × --calls")
    parser.add_argument("--burst", type=int, default=200, help="clients in the burst beyond the queue (0: none)")
    parser.add_argument("--refused", type=int, default=100, help="requests with a 1 MB value to refuse (0: none)")
    parser.add_argument("--call-timeout", type=float, default=120.0, help="seconds one call may take")
    parser.add_argument("--round-timeout", type=float, default=1200.0, help="seconds one round may take")
    args = parser.parse_args(argv)

    failures = []
    with tempfile.TemporaryDirectory(prefix="gan-load-") as work_dir:
        work = Path(work_dir)
        downloads = work / "downloads"
        tempfile.tempdir = str(work)  # gradio_client leaves an empty folder in the temp folder per download
        with server(args, work) as (url, pid, cache, temp, log):
            probe = clients(url, 1, downloads, args.call_timeout)[0]
            calls = Calls(probe)
            for endpoint, (_, make) in calls.makers.items():  # every endpoint once, before memory is measured
                probe.predict(*make(random.Random(0)), api_name=endpoint)
            print(f"{url}: {args.clients} clients × {args.calls} calls, {args.rounds} round(s); {os.cpu_count()} CPUs")
            at_start = files(cache)  # what the app cached as it started (the About tab's picture), kept by Gradio
            before = rss_mb(pid)
            print(f"server memory before: {before or float('nan'):.1f} MB")
            everything = collections.defaultdict(list)
            for number in range(1, args.rounds + 1):
                start, memory = time.perf_counter(), rss_mb(pid)
                results = load_round(url, calls, args, number, downloads)
                seconds, after = time.perf_counter() - start, rss_mb(pid)
                made = sum(len(outcomes) for outcomes in results.values())
                errors = [(label, error) for label, outcomes in results.items() for _, error in outcomes if error]
                cached, megabytes = disk(cache)
                print(f"round {number}: {made} calls in {seconds:.0f} s, {len(errors)} failed; server memory "
                      f"{memory or float('nan'):.1f} → {after or float('nan'):.1f} MB; "
                      f"Gradio cache {cached} files, {megabytes:.1f} MB", flush=True)  # fmt: skip
                failures += errors
                for label, outcomes in results.items():
                    everything[label] += outcomes
            print("\n".join(table(everything)))
            for (label, error), count in collections.Counter(failures).most_common():
                print(f"FAILED {count} × {label}: {error[:300]}")

            if args.refused:
                failures += large_values(probe, args.refused, pid, log)
            if args.burst:
                outcomes = burst(url, calls, args.burst, args.call_timeout, downloads)
                answered, refused = outcomes["answered"], sum(n for o, n in outcomes.items() if o.startswith("refused"))
                print(f"burst: {args.burst} clients at once (/interpolate, 120 frames): {answered} answered, "
                      f"{refused} refused as the queue was full, {args.burst - answered - refused} failed")  # fmt: skip
                for outcome, count in outcomes.most_common():
                    print(f"  {count} × {outcome[:300]}")
                    if outcome.startswith("FAILED"):
                        failures.append(("burst", outcome))
                ms, error = call(probe, "/render", calls.view(random.Random(1)), args.call_timeout)
                print(f"after the burst: /render {f'answered in {ms:.0f} ms' if error is None else 'FAILED: ' + error}")
                if error:
                    failures.append(("after the burst", error))
            (cached, megabytes), (_, temp_megabytes) = disk(cache), disk(temp)
            print(f"server memory after: {rss_mb(pid) or float('nan'):.1f} MB; Gradio cache {cached} files, "
                  f"{megabytes:.1f} MB; app temp folder {temp_megabytes:.1f} MB")  # fmt: skip
            probe.close()
        if log is not None:
            noise = [line for line in log.read_text().splitlines() if any(word in line for word in SERVER_LOG_ERRORS)]
            print(f"server log: {len(noise)} error lines" + "".join(f"\n  {line[:200]}" for line in noise[:5]))
            failures += [("server log", line) for line in noise]
            cached, ours = files(cache) - at_start, list(temp.glob("gan-explorer-*"))
            print(f"after shutdown: Gradio cache {len(cached)} files, explorer folders {len(ours)}")
            failures += [("after shutdown", f"{path} left") for path in [*cached, *ours]]
    tempfile.tempdir = None
    print(f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
