"""Start JupyterLab or Voilà on 127.0.0.1 and drive it with headless Chromium.

Used by test_browser.py. Chromium comes from Debian's ``chromium`` package
(never a tool's own browser download); Playwright drives it through
``executable_path``. Servers and browsers are cleaned up even when a test fails.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Flags for a closed network: no background connections, no sandbox as root.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update", "--disable-dev-shm-usage"]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    start = time.time()
    while time.time() - start < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except Exception:
            time.sleep(0.5)
    raise TimeoutError(f"server did not answer {url} within {timeout}s:\n{log.read_text()[-3000:]}")


@contextmanager
def server(kind: str, root: Path, notebook: str | None = None, env: dict | None = None):
    """Run ``jupyter lab`` (kind="lab"), ``jupyter notebook`` (Notebook 7, kind="notebook") or ``voila notebook``
    (kind="voila") on a free port with a token.

    Yields (base_url, token). The process group is killed on exit.
    """
    port, token = free_port(), secrets.token_hex(16)
    log = root / f"{kind}-server.log"
    full_env = dict(os.environ, **(env or {}))
    full_env["PATH"] = f"{BIN}{os.pathsep}{full_env['PATH']}"
    full_env["JUPYTER_CONFIG_DIR"] = str(root / ".jupyter-config")  # no user settings leak in
    if kind == "lab":
        cmd = [str(BIN / "jupyter"), "lab", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
               f"--port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={root}", "--LabApp.news_url=", "--LabApp.check_for_updates_class="
               "jupyterlab.NeverCheckForUpdate"]
        probe = f"http://127.0.0.1:{port}/api/status?token={token}"
    elif kind == "notebook":  # Jupyter Notebook 7, as many JupyterHubs serve it
        cmd = [str(BIN / "jupyter"), "notebook", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
               f"--port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={root}", "--JupyterNotebookApp.news_url=",
               "--JupyterNotebookApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
        probe = f"http://127.0.0.1:{port}/api/status?token={token}"
    elif kind == "voila":
        cmd = [str(BIN / "voila"), str(root / notebook), "--no-browser", "--Voila.ip=127.0.0.1", f"--port={port}",
               "--Voila.port_retries=0", f"--token={token}"]
        probe = f"http://127.0.0.1:{port}/?token={token}"
    else:
        raise ValueError(kind)
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=root, env=full_env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        if kind in ("lab", "notebook"):
            _wait_http(probe, proc, log)
        else:
            _wait_port(port, proc, log)
        yield f"http://127.0.0.1:{port}", token
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)


def _wait_port(port: int, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    start = time.time()
    while time.time() - start < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise TimeoutError(f"nothing listens on port {port} after {timeout}s:\n{log.read_text()[-3000:]}")


@contextmanager
def browser():
    """A headless Chromium page (1400×1100); closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b.new_page(viewport={"width": 1400, "height": 1100})
        finally:
            b.close()


def dismiss_dialogs(page) -> None:
    """Answer JupyterLab's first-start questions if they appear (kernel choice, news)."""
    select = page.locator(".jp-Dialog button.jp-mod-accept")  # "Select Kernel": accept the default
    if select.count() and select.first.is_visible():
        select.first.click()
    news = page.locator(".jp-toast-button", has_text="No")  # "notified about official Jupyter news?"
    if news.count() and news.first.is_visible():
        news.first.click()


def run_all_cells(page, timeout_ms: int = 120_000) -> None:
    """Run > Run All Cells through the menu, as a student would, once the kernel is idle (JupyterLab or Notebook 7).

    A click that lands before JupyterLab has finished starting is lost, so the
    menu is used again until the first cell's prompt shows it ran or is running.
    """
    page.wait_for_selector(".jp-Notebook", timeout=timeout_ms)
    # the kernel has started: JupyterLab's status bar says "| Idle", Notebook 7's toolbar indicator turns idle
    page.wait_for_function("() => [...document.querySelectorAll('.jp-StatusBar-TextItem')].some("
                           "e => e.textContent.includes('| Idle')) || document.querySelector("
                           "'.jp-Notebook-ExecutionIndicator[data-status=\"idle\"]') !== null", timeout=timeout_ms)
    for _ in range(5):
        dismiss_dialogs(page)
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        try:
            page.wait_for_function(
                "() => /\\[(\\*|\\d+)\\]/.test(document.querySelector('.jp-CodeCell .jp-InputPrompt')?.textContent)",
                timeout=15_000)
            return
        except Exception:  # Playwright's TimeoutError: try the menu again
            page.keyboard.press("Escape")
    raise TimeoutError("JupyterLab never started running the notebook's cells")
