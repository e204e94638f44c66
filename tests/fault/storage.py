#!/usr/bin/env python3
"""Storage faults against a real `anju serve` (run by .ci/run, as root):

    python3 tests/fault/storage.py <anju-binary> sqlite   # a full disk, then a read-only mount
    python3 tests/fault/storage.py <anju-binary> postgres # the database going away

SQLite runs on a small loop-mounted ext4 filesystem. While it is full, or mounted
read-only, every write must answer 503 (never 500) and readiness must say not ready;
when space or the mount comes back, writes must succeed again without a restart; after a
SIGKILL and a restart, every draft that was answered 201 must be there, each once.
PostgreSQL is reached through a TCP proxy this script runs: with the proxy gone, requests
answer 503 with Retry-After and readiness answers within 1.5 s; with it back, writes work.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

BIN = os.path.abspath(sys.argv[1])
MODE = sys.argv[2]
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
BASE = f"http://127.0.0.1:{PORT}"


def call(method, path, body=None, token=None, timeout=15):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(BASE + path, data=data, method=method)
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null"), dict(r.headers)
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode(errors="replace")
        return e.code, body, dict(e.headers)
    except OSError as e:
        return 0, str(e), {}


def start(env):
    p = subprocess.Popen([BIN, "serve"], env=env, stdout=open(os.path.join(work, "serve.log"), "a"),
                         stderr=subprocess.STDOUT)
    for _ in range(300):
        if call("GET", "/health/live", timeout=1)[0] == 200:
            return p
        time.sleep(0.1)
    fail("the server did not start")


def id_number(seq):
    body = "410104" + "19800101" + "%03d" % seq
    w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body + "10X98765432"[sum(int(c) * x for c, x in zip(body, w)) % 11]


def household(seq):
    return {"programme": "public_rental", "applicant_class": "local", "community_code": "410104003-01",
            "filed_at": "hukou", "contact_mobile": "13800001111", "language": "zh",
            "consent_verification": True, "declaration_truthful": True,
            "members": [{"relationship": "applicant", "name": "王小明", "id_number": id_number(seq % 900 + 1),
                         "gender": "male", "marital_status": "single", "hukou_city": "郑州",
                         "hukou_since": "2005-03-01", "annual_income_fen": 3000000}],
            "housing": [{"address": "郑州市管城区惠工街 1 号" + "楼" * 150, "area_m2": 30, "nature": "rented_private"}],
            "documents": ["id_card"]}


class Applicants:
    """Accounts to file drafts under (each may keep 20 open)."""

    def __init__(self):
        self.tokens = []
        self.used = 0

    def token(self):
        if not self.tokens or self.used >= 20:
            mobile = "1370000%04d" % len(self.tokens)
            status, body, _ = call("POST", "/api/v1/auth/register", {"mobile": mobile, "password": "storage-password",
                                                                    "display_name": "存储"})
            if status == 503:
                return None  # registering writes an account: refused like any write (tried again next time)
            if status not in (201, 202):
                fail(f"register: {status} {body}")
            status, body, _ = call("POST", "/api/v1/auth/login", {"login": mobile, "password": "storage-password"})
            if status == 503:
                return None  # signing in writes a session: refused like any write
            if status != 200:
                fail(f"login: {status} {body}")
            self.tokens.append(body["token"])
            self.used = 0
        self.used += 1
        return self.tokens[-1]


answered = {}  # draft id -> token


def draft(people, seq):
    token = people.token()
    if token is None:
        return 503
    status, body, headers = call("POST", "/api/v1/applications", household(seq), token)
    if status == 201:
        if body["id"] in answered:
            fail(f"draft id {body['id']} was given out twice")
        answered[body["id"]] = token
    elif status == 503:
        if "retry-after" not in {k.lower() for k in headers}:
            fail("a 503 without Retry-After")
    else:
        fail(f"a write during the fault answered {status}: {body}")
    return status


def ready():
    return call("GET", "/health/ready", timeout=3)[0]


def recover(people, what):
    for i in range(120):
        if draft(people, 5000 + i) == 201:
            return
        time.sleep(0.5)
    fail(f"writes did not come back after {what} without a restart")


def sqlite():
    mnt = os.path.join(work, "mnt")
    img = os.path.join(work, "disk.img")
    os.makedirs(mnt)
    subprocess.run(["truncate", "-s", "48M", img], check=True)
    subprocess.run(["mkfs.ext4", "-q", img], check=True)
    subprocess.run(["mount", "-o", "loop", img, mnt], check=True)
    try:
        env = dict(os.environ, ANJU_DATABASE_URL=f"sqlite://{mnt}/anju.db?mode=rwc", ANJU_LISTEN=f"127.0.0.1:{PORT}",
                   ANJU_LOG="warn", ANJU_REGISTER_PER_HOUR="100000")
        server = start(env)
        people = Applicants()
        for i in range(20):
            if draft(people, i) != 201:
                fail("a write failed before the disk was full")
        # Fill the disk to the last few hundred kilobytes.
        filler = os.path.join(mnt, "filler")
        with open(filler, "wb") as f:
            try:
                while True:
                    f.write(b"\0" * (1 << 20))
                    f.flush()
            except OSError:
                pass
        os.truncate(filler, max(0, os.path.getsize(filler) - 400 * 1024))
        refused = 0
        for i in range(3000):
            if draft(people, 100 + i) == 503:
                refused += 1
                if refused >= 20:
                    break
        if refused < 20:
            fail("the disk never filled up")
        if ready() != 503:
            fail("readiness said ready with the disk full")
        print(f"disk full: {len(answered)} drafts answered 201, writes then 503, readiness 503")
        os.remove(filler)
        recover(people, "space was freed")
        if ready() != 200:
            fail("not ready after space came back")
        for i in range(20):
            if draft(people, 6000 + i) != 201:
                fail("writes failed again after recovering")
        print("space freed: writes answered 201 again without a restart")

        # A server started on a read-only mount: it comes up, not ready, refusing writes,
        # and takes writes once the mount is writable again, without a restart.
        server.terminate()
        server.wait()
        subprocess.run(["mount", "-o", "remount,ro", mnt], check=True)
        server = start(env)
        if ready() != 503:
            fail("readiness said ready on a read-only mount")
        people_ro = Applicants()
        people_ro.tokens, people_ro.used = people.tokens[:], 20
        for i in range(5):
            if draft(people, 7000 + i) == 201:
                fail("a write succeeded on a read-only mount")
        subprocess.run(["mount", "-o", "remount,rw", mnt], check=True)
        recover(people, "the mount was writable again")
        if ready() != 200:
            fail("not ready after the mount was writable again")
        print("read-only mount: the server starts not ready and refuses writes (503); writable again: 201 without a restart")

        server.send_signal(signal.SIGKILL)
        server.wait()
        server = start(env)
        missing = [i for i, t in answered.items() if call("GET", f"/api/v1/applications/{i}", token=t)[0] != 200]
        if missing:
            fail(f"{len(missing)} drafts answered 201 are gone after a restart: {missing[:10]}")
        print(f"after SIGKILL and restart: all {len(answered)} drafts answered 201 are there, each once")
        server.terminate()
        server.wait()
    finally:
        subprocess.run(["umount", "-l", mnt])


def proxy(listen, target, stop):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", listen))
    srv.listen(64)
    srv.settimeout(0.2)
    conns = []

    def pipe(a, b):
        try:
            while not stop.is_set():
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.close()
            except OSError:
                pass

    while not stop.is_set():
        try:
            c, _ = srv.accept()
        except socket.timeout:
            continue
        u = socket.create_connection(target)
        conns += [c, u]
        threading.Thread(target=pipe, args=(c, u), daemon=True).start()
        threading.Thread(target=pipe, args=(u, c), daemon=True).start()
    srv.close()
    for s in conns:
        try:
            s.shutdown(socket.SHUT_RDWR)
            s.close()
        except OSError:
            pass


def postgres():
    url = os.environ["ANJU_TEST_STORAGE_POSTGRES_URL"]  # postgres://user@127.0.0.1:5432/db
    rest = url.split("@", 1)[1]
    hostport, db = rest.split("/", 1)
    host, port = hostport.split(":")
    listen = free_port()
    stop = threading.Event()
    t = threading.Thread(target=proxy, args=(listen, (host, int(port)), stop), daemon=True)
    t.start()
    through = url.replace(hostport, f"127.0.0.1:{listen}")
    env = dict(os.environ, ANJU_DATABASE_URL=through, ANJU_LISTEN=f"127.0.0.1:{PORT}", ANJU_LOG="warn",
               ANJU_REGISTER_PER_HOUR="100000")
    server = start(env)
    people = Applicants()
    for i in range(10):
        if draft(people, i) != 201:
            fail("a write failed with the database there")
    stop.set()
    t.join()
    began = time.time()
    status = ready()
    took = time.time() - began
    if status != 503 or took > 1.5:
        fail(f"readiness with the database gone: {status} after {took:.1f} s")
    for i in range(3):
        if draft(people, 100 + i) != 503:
            fail("a write succeeded with the database gone")
    print(f"database gone: writes 503 with Retry-After, readiness 503 in {took:.2f} s")
    stop = threading.Event()
    t = threading.Thread(target=proxy, args=(listen, (host, int(port)), stop), daemon=True)
    t.start()
    recover(people, "the database came back")
    if ready() != 200:
        fail("not ready after the database came back")
    print("database back: writes answered 201 again without a restart")
    server.terminate()
    server.wait()
    stop.set()


try:
    sqlite() if MODE == "sqlite" else postgres()
finally:
    shutil.rmtree(work, ignore_errors=True)
print("storage faults: ok")
