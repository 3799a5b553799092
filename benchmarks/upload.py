"""Upload the full shared catalogue zip through a real gunicorn process and measure it.

    FASHIONSITE_DATA_DIR=var/bench-upload .venv/bin/python benchmarks/upload.py [--zip PATH] [--import]

What it does: migrates the data dir's database, creates a catalogue admin, starts gunicorn (1 sync
worker) and a Celery worker on the `default` queue, logs in over HTTP, streams the 67 MB zip to
/catalogue/upload/ and samples the gunicorn worker's RSS every 10 ms while the request runs.
Then it waits for the background analysis (the preview) and, with --import, confirms and waits
for the import. Embedding the 44k products is not part of this benchmark (no worker listens on the
`embeddings` queue here; the queued messages are purged at the end).

Speed is reported as ratios against a baseline measured in the same process: the upload request
against copying the same file on the same disk (`shutil.copyfile`), and the web worker's memory
growth against the zip's size.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.common import print_table, write_results  # noqa: E402
from fashionsite.celery import worker_command  # noqa: E402

DEFAULT_ZIP = REPO.parent / "shared" / "datasets" / "fashion-product-images-small.zip"
USER, PASSWORD = "bench-catalogue-admin", "bench-upload-password-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage(*args: str, env: dict) -> str:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO, env=env, check=True, capture_output=True, text=True
    ).stdout


class RssSampler(threading.Thread):
    """Peak resident memory of a process tree (gunicorn worker) sampled every 10 ms."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.peak = 0
        self.running = True

    def rss(self) -> int:
        total = 0
        for proc in [self.process, *self.process.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                total += proc.memory_info().rss
        return total

    def run(self):
        while self.running:
            self.peak = max(self.peak, self.rss())
            time.sleep(0.01)


def gunicorn_worker_pid(master: psutil.Process) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        children = master.children()
        if children:
            return children[0].pid
        time.sleep(0.1)
    raise RuntimeError("gunicorn started no worker")


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise RuntimeError(f"timed out after {timeout}s waiting for {what}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zip", type=Path, default=DEFAULT_ZIP)
    parser.add_argument("--import", dest="do_import", action="store_true", help="also confirm and import")
    parser.add_argument(
        "--browser", action="store_true", help="also upload the zip once with headless Chromium"
    )
    args = parser.parse_args()
    zip_path: Path = args.zip
    size = zip_path.stat().st_size

    env = dict(os.environ)
    env.setdefault("FASHIONSITE_DATA_DIR", "var/bench-upload")
    env["PYTHONUNBUFFERED"] = "1"
    manage("migrate", "--noinput", env=env)
    manage(
        "shell",
        "-c",
        "from django.contrib.auth.models import User, Permission\n"
        f"u, _ = User.objects.get_or_create(username={USER!r}, defaults={{'is_staff': True}})\n"
        f"u.is_staff = True; u.set_password({PASSWORD!r}); u.save()\n"
        "u.user_permissions.add(Permission.objects.get(codename='manage_catalog'))",
        env=env,
    )

    # Baseline in this process: copying the same bytes on the same disk.
    with tempfile.TemporaryDirectory(dir=REPO / "var") as scratch:
        started = time.perf_counter()
        shutil.copyfile(zip_path, Path(scratch) / "copy.zip")
        copy_seconds = time.perf_counter() - started

    port = free_port()
    logs = REPO / "var" / "bench-upload-logs"
    logs.mkdir(parents=True, exist_ok=True)
    web = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "fashionsite.wsgi",
            "-w",
            "1",
            "-b",
            f"127.0.0.1:{port}",
            "--timeout",
            "300",
        ],
        cwd=REPO,
        env=env,
        stdout=open(logs / "gunicorn.log", "wb"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    worker = subprocess.Popen(
        worker_command(
            queues="default",
            name=f"bench-upload-{os.getpid()}@%h",
            extra=("--without-gossip", "--without-mingle"),
        ),
        cwd=REPO,
        env=env,
        stdout=open(logs / "worker.log", "wb"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    metrics: dict = {"upload_bytes": size, "baseline_copy_s": round(copy_seconds, 3)}
    try:
        client = httpx.Client(base_url=base, timeout=600, follow_redirects=False)
        wait_for(lambda: _up(client), 60, "gunicorn")
        worker_pid = gunicorn_worker_pid(psutil.Process(web.pid))
        login = client.get("/admin/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
        client.post(
            "/admin/login/",
            data={
                "username": USER,
                "password": PASSWORD,
                "csrfmiddlewaretoken": token,
                "next": "/catalogue/",
            },
        )
        form = client.get("/catalogue/upload/")
        assert form.status_code == 200, form.status_code
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)

        sampler = RssSampler(worker_pid)
        rss_before = sampler.rss()
        sampler.start()
        started = time.perf_counter()
        with zip_path.open("rb") as handle:
            response = client.post(
                "/catalogue/upload/",
                data={"csrfmiddlewaretoken": token},
                files={"file": (zip_path.name, handle, "application/zip")},
                headers={"Referer": f"{base}/catalogue/upload/"},
            )
        request_seconds = time.perf_counter() - started
        sampler.running = False
        sampler.join()
        assert response.status_code == 302, (response.status_code, response.text[:500])
        detail = response.headers["Location"]
        status_url = f"{detail}status.json"
        metrics.update(
            {
                "upload_request_s": round(request_seconds, 3),
                "upload_request_vs_copy_ratio": round(request_seconds / copy_seconds, 2),
                "web_rss_before_mb": round(rss_before / 2**20, 1),
                "web_rss_peak_mb": round(sampler.peak / 2**20, 1),
                "web_rss_growth_mb": round((sampler.peak - rss_before) / 2**20, 1),
                "web_rss_growth_vs_upload_ratio": round((sampler.peak - rss_before) / size, 4),
            }
        )
        if args.browser:
            metrics.update(browser_upload(base, zip_path, worker_pid))
        first = client.get(status_url).json()
        metrics["returned_before_import"] = int(first["status"] in {"uploaded", "analysing"})

        started = time.perf_counter()
        status = wait_for(
            lambda: _settled(client, status_url, {"previewed", "refused", "failed"}), 1800, "the preview"
        )
        metrics["analysis_s"] = round(time.perf_counter() - started, 1)
        metrics["analysis_rows"] = status["analysis"]["total"]
        if status["status"] != "previewed":
            raise RuntimeError(f"analysis ended {status['status']}: {status['error']}")
        counts = status["counts"]
        metrics["preview_created"] = counts["created"]
        metrics["preview_rejected"] = counts["rejected"]
        metrics["preview_missing_images"] = counts["missing_images"]
        if args.do_import:
            page = client.get(detail)
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
            started = time.perf_counter()
            client.post(
                f"{detail}confirm/", data={"csrfmiddlewaretoken": token}, headers={"Referer": base + detail}
            )
            status = wait_for(
                lambda: _settled(client, status_url, {"imported", "failed", "refused"}),
                3600,
                "the import",
            )
            metrics["import_s"] = round(time.perf_counter() - started, 1)
            metrics["import_rows_per_s"] = round(status["import"]["total"] / max(metrics["import_s"], 0.1), 1)
            if status["status"] != "imported":
                raise RuntimeError(f"import ended {status['status']}: {status['error']}")
            metrics["imported_created"] = status["result"]["created"]
    finally:
        for process in (web, worker):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=60)
        subprocess.run(
            [sys.executable, "-m", "celery", "-A", "fashionsite", "purge", "-f", "-Q", "default,embeddings"],
            cwd=REPO,
            env=env,
            capture_output=True,
            check=False,
        )

    targets = {
        "web_rss_growth_vs_upload_ratio": "< 0.25 (the zip is streamed to disk, never held in memory)",
        "upload_request_vs_copy_ratio": "< 20 (the request only streams and moves the file)",
        "returned_before_import": "1",
    }
    if zip_path == DEFAULT_ZIP:
        # The shared zip into an empty catalogue (a fresh data dir): every row is new.
        targets.update(
            {"analysis_rows": "44446", "preview_created": "44446", "preview_missing_images": "374"}
        )
        if args.do_import:
            targets["imported_created"] = "44446"
    print_table([(name, value, targets.get(name)) for name, value in metrics.items()])
    path = write_results(
        "upload",
        metrics,
        targets,
        notes=f"{zip_path.name} ({size} bytes) POSTed to gunicorn (1 sync worker) over loopback with httpx; "
        "RSS of the gunicorn worker sampled every 10 ms during the request; analysis and import run in a "
        "Celery worker on the default queue.",
    )
    print(f"wrote {path}")


def browser_upload(base: str, zip_path: Path, worker_pid: int) -> dict:
    """Log in and upload the zip with headless Chromium (the real form), timing submit -> redirect."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"),
            headless=True,
            args=["--no-sandbox"],
        )
        page = browser.new_page()
        page.goto(f"{base}/admin/login/?next=/catalogue/upload/")
        page.get_by_label("Username").fill(USER)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(re.compile(r"/catalogue/upload/$"))
        page.get_by_label("Catalogue zip").set_input_files(str(zip_path))
        sampler = RssSampler(worker_pid)
        rss_before = sampler.rss()
        sampler.start()
        started = time.perf_counter()
        page.get_by_role("button", name="Upload and preview").click()
        page.wait_for_url(re.compile(r"/catalogue/upload/\d+/$"), timeout=600_000)
        seconds = time.perf_counter() - started
        sampler.running = False
        sampler.join()
        browser.close()
    return {
        "browser_upload_request_s": round(seconds, 3),
        "browser_web_rss_growth_mb": round((sampler.peak - rss_before) / 2**20, 1),
    }


def _up(client: httpx.Client) -> bool:
    try:
        return client.get("/admin/login/").status_code == 200
    except httpx.HTTPError:
        return False


def _settled(client, url, statuses):
    status = client.get(url).json()
    return status if status["status"] in statuses else None


if __name__ == "__main__":
    main()
