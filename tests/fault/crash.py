#!/usr/bin/env python3
"""Crash test: SIGKILL the server mid-load (half the filings drafted then submitted, half
filed in one request through the group writer), restart, repeat; then check that every
submission that got a 201 is present exactly once, none is half-written, the numbers
are gap-free, the outbox drains, and the server's captured log holds no identity
numbers, tokens or passwords.

    python3 tests/fault/crash.py <anju-binary> sqlite|postgres [rounds]

For postgres, ANJU_TEST_CRASH_POSTGRES_URL names an empty database. Uses only the standard
library. Exit status 0 means every check passed.
"""
import json, os, signal, socket, sqlite3, subprocess, sys, tempfile, threading, time, urllib.request, urllib.error

BIN, DB_KIND = sys.argv[1], sys.argv[2]
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 5
work = tempfile.mkdtemp(prefix="anju-crash-")
mail_dir = os.path.join(work, "mail")
port = socket.socket(); port.bind(("127.0.0.1", 0)); PORT = port.getsockname()[1]; port.close()
BASE = f"http://127.0.0.1:{PORT}"
if DB_KIND == "sqlite":
    DB_URL = f"sqlite://{work}/anju.db?mode=rwc"
else:
    DB_URL = os.environ["ANJU_TEST_CRASH_POSTGRES_URL"]
env = dict(os.environ, ANJU_DATABASE_URL=DB_URL, ANJU_LISTEN=f"127.0.0.1:{PORT}", ANJU_LOG="info",
           ANJU_MAIL_DIR=mail_dir, ANJU_OUTBOX_LEASE_SECS="3", ANJU_OUTBOX_BACKOFF_SECS="1")


def start():
    p = subprocess.Popen([BIN, "serve"], env=env, stdout=open(os.path.join(work, "serve.log"), "a"), stderr=subprocess.STDOUT)
    for _ in range(300):
        try:
            with urllib.request.urlopen(BASE + "/health/ready", timeout=1) as r:
                if r.status == 200:
                    return p
        except Exception:
            time.sleep(0.1)
    raise SystemExit("server did not become ready")


def call(method, path, body=None, token=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(BASE + path, data=data, method=method)
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", "Bearer " + token)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, None
    except Exception:  # the server was killed mid-request
        return 0, None


def id_number(seq):
    body = "410104198%d%02d%02d%03d" % (seq // 100000 % 10, 1 + seq // 2800 % 12, 1 + seq // 100 % 28, (seq % 100) * 2 + 1)
    w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    s = sum(int(c) * x for c, x in zip(body, w))
    return body + "10X98765432"[s % 11]


def household(seq):
    return {"programme": "public_rental", "applicant_class": "local", "community_code": "410104003-01", "filed_at": "hukou",
            "contact_mobile": "13800001111", "contact_email": f"crash{seq}@example.com", "consent_verification": True,
            "declaration_truthful": True, "documents": ["id_card"],
            "members": [{"relationship": "applicant", "name": "测试", "id_number": id_number(seq), "gender": "male",
                         "marital_status": "single", "hukou_city": "郑州", "hukou_since": "2005-01-01", "annual_income_fen": 2400000}]}


confirmed = {}  # number -> application id, for every 201
lock = threading.Lock()
stop = threading.Event()
seq_counter = [0]


def worker(token):
    while not stop.is_set():
        with lock:
            seq_counter[0] += 1
            seq = seq_counter[0]
        if seq % 2:
            # A complete form filed in one request: stored by the group writer's batch.
            status, case = call("POST", "/api/v1/applications", household(seq), token, {"idempotency-key": f"crash-{seq}"})
            if status == 201:
                with lock:
                    confirmed[case["number"]] = case["id"]
            continue
        status, draft = call("POST", "/api/v1/applications", household(seq), token)
        if status != 201:
            continue
        status, receipt = call("POST", f"/api/v1/applications/{draft['id']}/submit", {}, token, {"idempotency-key": f"crash-{seq}"})
        if status == 201:
            with lock:
                confirmed[receipt["number"]] = receipt["application_id"]


server = start()
tokens = []
for i in range(8):
    mobile = "1370000%04d" % i
    call("POST", "/api/v1/auth/register", {"mobile": mobile, "password": "crash-password", "display_name": "压测"})
    tokens.append(call("POST", "/api/v1/auth/login", {"login": mobile, "password": "crash-password"})[1]["token"])
for round_ in range(ROUNDS):
    stop.clear()
    threads = [threading.Thread(target=worker, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    time.sleep(1.5)
    server.send_signal(signal.SIGKILL)
    server.wait()
    stop.set()
    for t in threads:
        t.join()
    print(f"round {round_ + 1}: killed with {len(confirmed)} confirmed submissions so far", flush=True)
    server = start()

# Let the outbox drain, then stop and check the database directly.
deadline = time.time() + 60


def query(sql):
    if DB_KIND == "sqlite":
        con = sqlite3.connect(f"{work}/anju.db")
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()
    out = subprocess.run(["psql", DB_URL, "-Atc", sql], capture_output=True, text=True, check=True).stdout
    return [tuple(line.split("|")) for line in out.splitlines() if line]


while time.time() < deadline and int(query("select count(*) from outbox_message where status = 'pending'")[0][0]) > 0:
    time.sleep(0.5)
server.send_signal(signal.SIGTERM)
server.wait()

failures = []
numbers = {}
for number, count in query("select number, count(*) from application where number is not null group by number"):
    numbers[number] = int(count)
for number in confirmed:
    if numbers.get(number) != 1:
        failures.append(f"{number} got a 201 but is present {numbers.get(number, 0)} times")
half = query("""select a.number from application a where a.number is not null and (
    (select count(*) from application_event e where e.application_id = a.id and e.action = 'submit') <> 1 or
    (select count(*) from application_event e where e.application_id = a.id and e.action in ('pass_eligibility','fail_eligibility')) <> 1 or
    (select count(*) from eligibility_decision d where d.application_id = a.id) <> 1 or
    (select count(*) from outbox_message m where m.application_id = a.id) <> 2 or
    (select count(*) from idempotency_record r where r.application_id = a.id) <> 1)""")
failures += [f"{n[0]} is half-written" for n in half]
# Gap-free: a crash takes back the numbers of what it rolled back, with the rest.
sequence = sorted(int(n.rsplit("-", 1)[1]) for n in numbers)
if sequence != list(range(1, len(sequence) + 1)):
    missing = sorted(set(range(1, (sequence or [0])[-1] + 1)) - set(sequence))
    failures.append(f"numbers are not gap-free: missing {missing[:10]}")
pending = int(query("select count(*) from outbox_message where status = 'pending'")[0][0])
if pending:
    failures.append(f"{pending} messages still pending: the outbox did not drain")
sent = int(query("select count(*) from outbox_message where status = 'sent'")[0][0])
# The captured log must hold no identity numbers, tokens or passwords.
check = subprocess.run([BIN, "report", "counters"], env=env, capture_output=True, text=True)
if check.returncode != 0:
    failures.append("report counters differ from the event log: " + check.stdout[-500:] + check.stderr[-500:])
log = open(os.path.join(work, "serve.log"), encoding="utf-8", errors="replace").read()
if "request" not in log:
    failures.append("the access log is empty: the leak check would prove nothing")
leaks = [id_number(s) for s in range(1, seq_counter[0] + 1) if id_number(s) in log]
leaks += [t[:16] for t in tokens if t in log]
if "crash-password" in log:
    leaks.append("a password")
failures += [f"log leaks {l}" for l in leaks[:5]]
print(f"{DB_KIND}: {len(confirmed)} confirmed submissions, {sum(numbers.values())} numbered cases, {sent} messages sent, {len(failures)} failures")
for f in failures[:20]:
    print("FAIL:", f)
sys.exit(1 if failures or not confirmed else 0)
