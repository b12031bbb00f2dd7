"""Slow-client figures (issue 12): 1,100 half-sent HTTP requests and 2,000 abandoned MCP sessions
against `poe-mcp serve --transport http` with its default limits (extra serve options may follow).

    .venv/bin/python scripts/slow_clients.py --mcp-session-idle 10
"""

import sys, time, socket, tempfile, os

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pathlib import Path
from tests.security.servers import start_server, start_simulator, McpHttp, health_ms
import http.client


def rss(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) // 1024


home = Path(tempfile.mkdtemp())
sim, base = start_simulator(home)
srv, port = start_server(home, base, "--no-auth", *sys.argv[1:])
pid = srv.proc.pid
print("server RSS at start:", rss(pid), "MB")
t0 = time.monotonic()
socks = []
for i in range(1100):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    socks.append(s)
refused = 0
open_ = list(socks)
for s in socks:
    s.setblocking(False)
time.sleep(0.5)
c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
c.request("GET", "/health")
print("/health during the flood:", c.getresponse().status, "(503 while the connection cap is full)")
c.close()
closed_at = {}
while len(closed_at) < len(socks) and time.monotonic() - t0 < 60:
    for i, s in enumerate(socks):
        if i in closed_at:
            continue
        try:
            d = s.recv(4096)
            if d.startswith(b"HTTP/1.1 503"):
                refused += 1
            closed_at[i] = time.monotonic() - t0
        except BlockingIOError:
            pass
    time.sleep(0.05)
vals = sorted(closed_at.values())
print(
    f"half-sent: {len(socks)} opened, {refused} answered 503 at once (connection cap), "
    f"all {len(vals)} closed; last closed after {vals[-1]:.1f} s"
)
for s in socks:
    s.close()
time.sleep(1)
before = rss(pid)
t0 = time.monotonic()
ok = rej = 0
for i in range(2000):
    m = McpHttp(port)
    st, h, b = m.post(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "a", "version": "1"},
            },
        }
    )
    if st == 200:
        ok += 1
    elif st == 503:
        rej += 1
    m.close()
print(
    f"sessions: {ok} opened, {rej} refused (503) in {time.monotonic() - t0:.1f} s; RSS {before} -> {rss(pid)} MB"
)
idle = (
    float(sys.argv[sys.argv.index("--mcp-session-idle") + 1])
    if "--mcp-session-idle" in sys.argv
    else None
)
if idle:
    time.sleep(idle + 3)
    m = McpHttp(port)
    st, _, _ = m.post(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "a", "version": "1"},
            },
        }
    )
    print(f"after {idle + 3:.0f} s idle: new session status {st}; RSS {rss(pid)} MB")
srv.stop()
sim.stop()
