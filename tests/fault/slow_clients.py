#!/usr/bin/env python3
"""Slow clients against a real `anju serve` (run by .ci/run):

    python3 tests/fault/slow_clients.py <anju-binary>

The server runs with an open-file limit of 1,024. 1,100 connections each send half a
request head (and 100 more declare a 100-byte body and send one byte), then stay quiet.
While they are held, `/health/live` must still be answered once a slot frees (the
connection cap keeps the server below its file limit; the header timeout frees slots);
after the timeouts every slow connection must have been closed by the server, and the
server must still answer.
"""

import os
import resource
import selectors
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

BIN = os.path.abspath(sys.argv[1])
SLOW = 1100
TRICKLE = 100
HEADER_TIMEOUT = 3
BODY_TIMEOUT = 3
work = tempfile.mkdtemp()


def fail(msg):
    print(f"FATAL: {msg}", file=sys.stderr)
    log = os.path.join(work, "serve.log")
    if os.path.exists(log):
        print(open(log).read()[-3000:], file=sys.stderr)
    sys.exit(1)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


PORT = free_port()


def live(timeout):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/health/live", timeout=timeout) as r:
            return r.status
    except OSError as e:
        return str(e)


def limit_server_files():
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))


# This process holds 1,200 sockets itself.
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if hard != resource.RLIM_INFINITY and hard < 4096:
    fail(f"this script needs 4,096 open files (hard limit {hard})")
resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 4096), hard))

env = dict(os.environ, ANJU_DATABASE_URL=f"sqlite://{work}/anju.db?mode=rwc", ANJU_LISTEN=f"127.0.0.1:{PORT}",
           ANJU_LOG="warn", ANJU_HEADER_TIMEOUT_SECS=str(HEADER_TIMEOUT), ANJU_BODY_TIMEOUT_SECS=str(BODY_TIMEOUT))
server = subprocess.Popen([BIN, "serve"], env=env, stdout=open(os.path.join(work, "serve.log"), "w"),
                          stderr=subprocess.STDOUT, preexec_fn=limit_server_files)
try:
    for _ in range(300):
        if live(1) == 200:
            break
        time.sleep(0.1)
    else:
        fail("the server did not start")

    held = []
    for i in range(SLOW + TRICKLE):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", PORT))
        held.append(s)
    sel = selectors.DefaultSelector()
    for i, s in enumerate(held):
        sel.register(s, selectors.EVENT_WRITE, i)
    sent = 0
    failed = 0
    deadline = time.time() + 10
    while sent < len(held) and time.time() < deadline:
        for key, _ in sel.select(timeout=1):
            s, i = key.fileobj, key.data
            try:
                if i < SLOW:
                    s.send(b"GET /health/live HTTP/1.1\r\nHost: anju\r\nX-Slow: ")
                else:
                    s.send(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: anju\r\n"
                           b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
            except OSError:
                failed += 1
            sel.unregister(s)
            sent += 1
    if sent < len(held) or failed:
        fail(f"only {sent - failed} of {len(held)} slow connections could be opened")
    print(f"{len(held)} slow connections opened, each holding half a request")

    # Health must be answered while they are held: at worst after one header timeout.
    started = time.time()
    status = live(HEADER_TIMEOUT * 4 + 10)
    waited = time.time() - started
    if status != 200:
        fail(f"/health/live did not answer while slow clients were held: {status}")
    print(f"/health/live answered in {waited:.2f} s with {len(held)} slow connections")
    if server.poll() is not None:
        fail("the server exited")

    # Every slow connection is closed by the server once its timeout has passed. (A
    # connection still in the backlog when it started is served and timed out in turn.)
    for s in held:
        s.setblocking(True)
        s.settimeout(0)
    open_ones = set(range(len(held)))
    deadline = time.time() + HEADER_TIMEOUT * (len(held) // 900 + 2) + 30
    while open_ones and time.time() < deadline:
        for i in list(open_ones):
            try:
                data = held[i].recv(4096)
                if data == b"" or data:
                    # Answered (408) or closed; read on until closed.
                    if data == b"":
                        open_ones.discard(i)
            except BlockingIOError:
                pass
            except OSError:
                open_ones.discard(i)
        time.sleep(0.2)
    if open_ones:
        fail(f"{len(open_ones)} slow connections were still open after their timeouts")
    print(f"all {len(held)} slow connections were closed by the server")
    for s in held:
        s.close()
    if live(5) != 200:
        fail("/health/live did not answer after the slow clients were gone")
    log = open(os.path.join(work, "serve.log")).read()
    if "Too many open files" in log:
        fail("the server ran out of file descriptors")
    print("slow clients: passed")
finally:
    server.kill()
    server.wait()
