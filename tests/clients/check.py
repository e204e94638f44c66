#!/usr/bin/env python3
"""Proves the committed spec is whole for real client generators (run by .ci/run).

    python3 tests/clients/check.py <anju-binary>

1. openapi-python-client generates a Python client from openapi/openapi.json: any warning
   fails, and every schema and every operation of the spec must have been generated.
2. openapi-typescript (npm, tests/clients/package-lock.json) generates TypeScript types
   from openapi/openapi.yaml: any warning fails, every schema and path must be there, and
   the result must type-check with tsc.
3. A smoke test through the generated Python client against a real `anju serve` on a fresh
   SQLite database: register, sign in, save a draft, submit it, read the case with its
   eligibility decision.
"""

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.join(ROOT, "tests", "clients")
SPEC_JSON = os.path.join(ROOT, "openapi", "openapi.json")
SPEC_YAML = os.path.join(ROOT, "openapi", "openapi.yaml")
NOISE = re.compile(r"warning|unable to|cannot|could not|error", re.IGNORECASE)


def fail(msg):
    print(f"FATAL: {msg}", file=sys.stderr)
    sys.exit(1)


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    out = p.stdout + p.stderr
    if p.returncode != 0:
        fail(f"{' '.join(cmd)} exited {p.returncode}:\n{out}")
    return out


def snake(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def python_client(spec, work):
    out = run(
        [
            "openapi-python-client", "generate", "--path", SPEC_JSON,
            "--config", os.path.join(ROOT, "openapi", "clients", "python-client.yaml"),
            "--output-path", os.path.join(work, "py"), "--overwrite",
        ]
    )
    noisy = [line for line in out.splitlines() if NOISE.search(line)]
    if noisy:
        fail("openapi-python-client complained:\n" + out)
    pkg = os.path.join(work, "py", "anju_client")
    models = {f[:-3] for f in os.listdir(os.path.join(pkg, "models")) if f.endswith(".py")}
    missing = [s for s in spec["components"]["schemas"] if snake(s) not in models]
    if missing:
        fail(f"schemas not generated in Python: {missing}")
    generated = set()
    for tag in os.listdir(os.path.join(pkg, "api")):
        folder = os.path.join(pkg, "api", tag)
        if os.path.isdir(folder):
            generated |= {f[:-3] for f in os.listdir(folder) if f.endswith(".py")}
    ops = [op["operationId"] for item in spec["paths"].values() for op in item.values()]
    missing = [o for o in ops if o not in generated]
    if missing:
        fail(f"operations not generated in Python: {missing}")
    print(f"python client: {len(spec['components']['schemas'])} schemas, {len(ops)} operations, no warnings")
    return os.path.join(work, "py")


def typescript_client(spec, work):
    run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=HERE)
    target = os.path.join(work, "anju.d.ts")
    out = run([os.path.join(HERE, "node_modules", ".bin", "openapi-typescript"), SPEC_YAML, "-o", target])
    noisy = [line for line in out.splitlines() if NOISE.search(line)]
    if noisy:
        fail("openapi-typescript complained:\n" + out)
    text = open(target, encoding="utf-8").read()
    missing = [s for s in spec["components"]["schemas"] if not re.search(rf"\b{re.escape(s)}: ", text)]
    missing += [p for p in spec["paths"] if f'"{p}"' not in text]
    if missing:
        fail(f"missing from the TypeScript types: {missing}")
    check = os.path.join(work, "check.ts")
    with open(check, "w", encoding="utf-8") as f:
        f.write('import type { components, paths } from "./anju";\n')
        f.write('type View = components["schemas"]["ApplicationView"];\n')
        f.write('const status: View["status"] = "eligible";\n')
        f.write('type Created = paths["/api/v1/applications"]["post"]["responses"]["201"];\n')
        f.write("export const checked: [typeof status, Created | null] = [status, null];\n")
    run([os.path.join(HERE, "node_modules", ".bin", "tsc"), "--noEmit", "--strict", check])
    print(f"typescript types: {len(spec['components']['schemas'])} schemas, {len(spec['paths'])} paths, type-checked")


def id_number(address, birth, seq):
    body = f"{address}{birth}{seq:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(c) * w for c, w in zip(body, weights))
    return body + "10X98765432"[total % 11]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def smoke(binary, package_dir, work):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, ANJU_LISTEN=f"127.0.0.1:{port}", ANJU_LOG="warn",
               ANJU_DATABASE_URL=f"sqlite://{work}/smoke.db?mode=rwc")
    log = open(os.path.join(work, "serve.log"), "w")
    server = subprocess.Popen([binary, "serve"], env=env, stdout=log, stderr=log, cwd=work)
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/health/ready", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        else:
            fail("anju serve did not start:\n" + open(os.path.join(work, "serve.log")).read())
        sys.path.insert(0, package_dir)
        smoke_through_client(base)
    finally:
        server.terminate()
        server.wait(timeout=10)


def smoke_through_client(base):
    from anju_client import AuthenticatedClient, Client
    from anju_client.api.applications import applications_create, applications_get, applications_submit
    from anju_client.api.auth import auth_login, auth_register
    from anju_client.models import (
        ApplicationForm, ApplicationView, LoginRequest, LoginView, ReceiptView, RegisterRequest, RegistrationView,
        SubmitRequest,
    )

    anonymous = Client(base_url=base)
    user = auth_register.sync(client=anonymous, body=RegisterRequest(
        email="client@example.org", password="a-long-password", display_name="王小明"))
    if not isinstance(user, RegistrationView):
        fail(f"register: {user}")
    login = auth_login.sync(client=anonymous, body=LoginRequest(login="client@example.org", password="a-long-password"))
    if not isinstance(login, LoginView):
        fail(f"login: {login}")
    client = AuthenticatedClient(base_url=base, token=login.token)
    member = {"relationship": "applicant", "name": "王小明", "id_number": id_number("410104", "19850715", 3),
              "gender": "male", "marital_status": "single", "hukou_city": "郑州", "hukou_since": "2005-03-01",
              "annual_income_fen": 3_000_000}
    form = ApplicationForm.from_dict({
        "programme": "public_rental", "applicant_class": "local", "community_code": "410104003-01",
        "filed_at": "hukou", "contact_mobile": "13800001111", "contact_email": "client@example.org",
        "language": "zh", "consent_verification": True, "declaration_truthful": True,
        "members": [member], "documents": ["id_card"],
        "housing": [], "transfers": [], "assets": {"deposits_fen": 0, "vehicles_fen": 0, "securities_fen": 0},
    })
    draft = applications_create.sync(client=client, body=form)
    if not isinstance(draft, ApplicationView) or draft.status.value != "draft":
        fail(f"draft: {draft}")
    receipt = applications_submit.sync(draft.id, client=client, body=SubmitRequest(), idempotency_key="smoke-1")
    if not isinstance(receipt, ReceiptView) or not receipt.number.startswith("410104003-"):
        fail(f"submit: {receipt}")
    case = applications_get.sync(draft.id, client=client)
    if not isinstance(case, ApplicationView):
        fail(f"read: {case}")
    decision = case.eligibility
    if case.status.value not in ("eligible", "ineligible") or not decision or not decision.rules:
        fail(f"the case has no eligibility decision: {case.to_dict()}")
    print(f"smoke test through the Python client: {receipt.number} is {case.status.value}, "
          f"{len(decision.rules)} rules explained")


def main():
    if len(sys.argv) != 2:
        fail("usage: check.py <anju-binary>")
    binary = os.path.abspath(sys.argv[1])
    spec = json.load(open(SPEC_JSON, encoding="utf-8"))
    with tempfile.TemporaryDirectory() as work:
        package_dir = python_client(spec, work)
        typescript_client(spec, work)
        smoke(binary, package_dir, work)
    print("generated clients: ok")


if __name__ == "__main__":
    main()
