#!/usr/bin/env python3
"""Three `anju serve` on one PostgreSQL database behind HAProxy, configured from
deploy/haproxy.cfg, under a submission load with a rolling restart in the middle
(each instance in turn gets SIGTERM and is started again). Then:

- no request was lost: every request the clients sent got an answer, none a 5xx or a
  broken connection, and every submission was acknowledged (201);
- every acknowledged submission is in the database once, application numbers are
  unique, and the report counters agree with the event log;
- the outbox, worked by all three instances at once, sent every message exactly once
  (each instance writes what it sends into its own folder; no message is in two);
- one bootstrap admin, though all three were started together with the same one;
- every log line is one JSON object, and those of requests carry the request id.

    python3 tests/fault/instances.py <anju-binary>

ANJU_TEST_INSTANCES_POSTGRES_URL names an empty database. Needs haproxy on the PATH.
Exit status 0 means every check passed.
"""
import glob, json, os, re, signal, socket, subprocess, sys, tempfile, threading, time, urllib.error, urllib.request

BIN = sys.argv[1]
DB_URL = os.environ["ANJU_TEST_INSTANCES_POSTGRES_URL"]
HERE = os.path.dirname(os.path.abspath(__file__))
work = tempfile.mkdtemp(prefix="anju-instances-")


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close()
    return p


PORTS = [free_port() for _ in range(3)]
PROXY = free_port()
BASE = f"http://127.0.0.1:{PROXY}"


def start(i):
    env = dict(os.environ, ANJU_DATABASE_URL=DB_URL, ANJU_LISTEN=f"127.0.0.1:{PORTS[i]}", ANJU_LOG="info",
               ANJU_LOG_FORMAT="json", ANJU_MAIL_DIR=os.path.join(work, f"mail-{i}"),
               ANJU_TRUSTED_PROXIES="127.0.0.1", ANJU_REGISTER_PER_HOUR="100000",
               ANJU_BOOTSTRAP_ADMIN_LOGIN="admin@instances.test", ANJU_BOOTSTRAP_ADMIN_PASSWORD="instances-admin-pw",
               ANJU_OUTBOX_BACKOFF_SECS="1", ANJU_SHUTDOWN_GRACE_SECS="3")
    return subprocess.Popen([BIN, "serve"], env=env, stdout=open(os.path.join(work, f"serve-{i}.log"), "a"),
                            stderr=subprocess.STDOUT)


def ready(port, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=1) as r:
                if r.status == 200:
                    return
        except Exception:
            time.sleep(0.1)
    raise SystemExit(f"FATAL: the instance on {port} did not become ready")


def proxy_config():
    """deploy/haproxy.cfg with this run's ports and plain HTTP."""
    conf = open(os.path.join(HERE, "..", "..", "deploy", "haproxy.cfg"), encoding="utf-8").read()
    for n, port in zip((8081, 8082, 8083), PORTS):
        conf = conf.replace(f"127.0.0.1:{n}", f"127.0.0.1:{port}")
    conf = conf.replace("    bind :80\n", f"    bind 127.0.0.1:{PROXY}\n")
    conf = re.sub(r"\n    bind :443 [^\n]*", "", conf)
    conf = re.sub(r"\n    http-request redirect scheme https[^\n]*", "", conf)
    if f"127.0.0.1:{PORTS[2]}" not in conf or f"bind 127.0.0.1:{PROXY}" not in conf or "ssl crt" in conf:
        raise SystemExit("FATAL: deploy/haproxy.cfg no longer has the shape this test adapts")
    path = os.path.join(work, "haproxy.cfg")
    open(path, "w").write(conf)
    return path


def call(method, path, body=None, token=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(BASE + path, data=data, method=method)
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", "Bearer " + token)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, None
    except Exception as e:
        return 0, str(e)


def id_number(seq):
    body = "410104197%d%02d%02d%03d" % (seq // 100000 % 10, 1 + seq // 2800 % 12, 1 + seq // 100 % 28, (seq % 100) * 2 + 1)
    w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    s = sum(int(c) * x for c, x in zip(body, w))
    return body + "10X98765432"[s % 11]


def household(seq):
    return {"programme": "public_rental", "applicant_class": "local", "community_code": "410104003-01", "filed_at": "hukou",
            "contact_mobile": "13800001111", "contact_email": f"inst{seq}@example.com", "consent_verification": True,
            "declaration_truthful": True, "documents": ["id_card"],
            "members": [{"relationship": "applicant", "name": "测试", "id_number": id_number(seq), "gender": "male",
                         "marital_status": "single", "hukou_city": "郑州", "hukou_since": "2005-01-01", "annual_income_fen": 2400000}]}


def query(sql):
    out = subprocess.run(["psql", DB_URL, "-Atc", sql], capture_output=True, text=True, check=True).stdout
    return [tuple(line.split("|")) for line in out.splitlines() if line]


servers = [start(i) for i in range(3)]
for p in PORTS:
    ready(p)
proxy = subprocess.Popen(["haproxy", "-db", "-f", proxy_config()], stdout=open(os.path.join(work, "haproxy.log"), "w"),
                         stderr=subprocess.STDOUT)
ready(PROXY)

tokens = []
for i in range(16):
    mobile = "1360000%04d" % i
    status, _ = call("POST", "/api/v1/auth/register", {"mobile": mobile, "password": "instances-pw", "display_name": "多实例"})
    if status != 201:
        raise SystemExit(f"FATAL: registering through HAProxy answered {status}")
    tokens.append(call("POST", "/api/v1/auth/login", {"login": mobile, "password": "instances-pw"})[1]["token"])

confirmed = {}  # number -> application id
answers = {}  # status -> count
lost = []
lock = threading.Lock()
stop = threading.Event()
seq_counter = [0]


def note(status, what):
    with lock:
        answers[status] = answers.get(status, 0) + 1
        if status == 0 or status >= 500:
            lost.append(f"{what}: {status}")


def worker(token):
    while not stop.is_set():
        with lock:
            seq_counter[0] += 1
            seq = seq_counter[0]
        status, draft = call("POST", "/api/v1/applications", household(seq), token)
        note(status, f"draft {seq}")
        if status != 201:
            continue
        status, receipt = call("POST", f"/api/v1/applications/{draft['id']}/submit", {}, token,
                               {"idempotency-key": f"inst-{seq}"})
        note(status, f"submit {seq}")
        if status == 201:
            with lock:
                confirmed[receipt["number"]] = receipt["application_id"]
        elif status != 0 and status < 500:
            with lock:
                lost.append(f"submit {seq} refused: {status}")


threads = [threading.Thread(target=worker, args=(t,)) for t in tokens]
for t in threads:
    t.start()
time.sleep(2)
for i in range(3):  # the rolling restart, as an operator does it: one at a time
    before = len(confirmed)
    servers[i].send_signal(signal.SIGTERM)
    servers[i].wait()
    print(f"instance {i + 1} stopped after draining; {len(confirmed) - before} submissions acknowledged meanwhile", flush=True)
    servers[i] = start(i)
    ready(PORTS[i])
    time.sleep(1.5)  # HAProxy's `rise 2` x `inter 500ms`: back in the pool
time.sleep(2)
stop.set()
for t in threads:
    t.join()

failures = list(lost[:20])
deadline = time.time() + 60
while time.time() < deadline and int(query("select count(*) from outbox_message where status <> 'sent'")[0][0]) > 0:
    time.sleep(0.5)
for s in servers:
    s.send_signal(signal.SIGTERM)
    s.wait()
proxy.send_signal(signal.SIGUSR1)  # soft stop
proxy.wait()

numbers = {n: int(c) for n, c in query("select number, count(*) from application where number is not null group by number")}
for number in confirmed:
    if numbers.get(number) != 1:
        failures.append(f"{number} got a 201 but is present {numbers.get(number, 0)} times")
failures += [f"{n} was given twice" for n, c in numbers.items() if c > 1]
unsent = int(query("select count(*) from outbox_message where status <> 'sent'")[0][0])
if unsent:
    failures.append(f"{unsent} messages not sent: the outbox did not drain")
sent = int(query("select count(*) from outbox_message where status = 'sent'")[0][0])
files = {}
for i in range(3):
    for f in glob.glob(os.path.join(work, f"mail-{i}", "*.eml")):
        files.setdefault(os.path.basename(f), []).append(i)
twice = [name for name, where in files.items() if len(where) > 1]
if twice:
    failures.append(f"{len(twice)} messages were sent by two instances, e.g. {twice[:3]}")
if len(files) != sent:
    failures.append(f"{sent} messages marked sent, {len(files)} written")
by = [sum(1 for w in files.values() if i in w) for i in range(3)]
admins = int(query("select count(*) from user_account where role = 'admin'")[0][0])
if admins != 1:
    failures.append(f"{admins} bootstrap admins")
check = subprocess.run([BIN, "report", "counters"], env=dict(os.environ, ANJU_DATABASE_URL=DB_URL, ANJU_LOG="warn"),
                       capture_output=True, text=True)
if check.returncode != 0:
    failures.append("report counters differ from the event log: " + check.stdout[-300:])
with_id = 0
for i in range(3):
    for line in open(os.path.join(work, f"serve-{i}.log"), encoding="utf-8"):
        try:
            o = json.loads(line)
        except ValueError:
            failures.append(f"instance {i + 1} logged a line that is not JSON: {line[:120]!r}")
            break
        if o.get("message") == "request":
            if not o.get("span", {}).get("request_id"):
                failures.append(f"instance {i + 1} logged a request without its id")
                break
            with_id += 1
if with_id == 0:
    failures.append("no request lines were logged: the log check proved nothing")
total = sum(answers.values())
print(f"{total} requests through HAProxy, answers {dict(sorted(answers.items()))}; {len(confirmed)} submissions acknowledged, "
      f"{sum(numbers.values())} numbered cases; {sent} messages sent exactly once (by instance: {by}); "
      f"{with_id} request log lines with ids; {len(failures)} failures")
for f in failures[:20]:
    print("FAIL:", f)
sys.exit(1 if failures or not confirmed or min(by) == 0 else 0)
