"""How long a report page takes to open in headless Chromium, driven over WebDriver
(chromedriver on a loopback port): for each run a new tab loads the page; the time is from
the navigation's start to the end of the page's script (`data-ready`, the first view drawn
and every panel ready), and to the load event. Prints medians (p10, p90).

    python3 bench/page_load.py RUNS PAGE.html
"""
import json, os, socket, statistics, subprocess, sys, time, urllib.request

runs, page = int(sys.argv[1]), os.path.abspath(sys.argv[2])
with socket.socket() as s:
    s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]
driver = subprocess.Popen(["chromedriver", f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

def call(method, path, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.loads(r.read())["value"]

try:
    for _ in range(200):
        try:
            call("GET", "/status"); break
        except OSError:
            time.sleep(0.05)
    caps = {"capabilities": {"alwaysMatch": {"goog:chromeOptions": {"args": [
        "--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000"]}}}}
    sid = call("POST", "/session", caps)["sessionId"]
    ready, loaded, wall = [], [], []
    for _ in range(runs):
        call("POST", f"/session/{sid}/url", {"url": "about:blank"})
        t = time.perf_counter()
        call("POST", f"/session/{sid}/url", {"url": f"file://{page}"})
        wall.append(time.perf_counter() - t)
        r = call("POST", f"/session/{sid}/execute/sync", {"script": "return [Number(document.documentElement.dataset.ready), performance.getEntriesByType('navigation')[0].loadEventEnd];", "args": []})
        ready.append(r[0]); loaded.append(r[1])
    call("DELETE", f"/session/{sid}")
finally:
    driver.kill()

def q(v, f): v = sorted(v); return v[int(f * (len(v) - 1))]
def line(name, v, unit=1):
    v = [x * unit for x in v]
    print(f"{name}: median {statistics.median(v):.0f} ms (p10 {q(v, .1):.0f}, p90 {q(v, .9):.0f})")
print(f"{page}: {os.path.getsize(page) / 1e6:.1f} MB, {runs} runs")
line("script done (data-ready)", ready)
line("load event", loaded)
line("navigation command, wall", wall, 1000)
