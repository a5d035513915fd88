# flood.py PORT PID: ten clients pipeline "help" (a big answer to a small
# request) from 127.0.0.2-11 and never read; prints the campfire server's
# (PID) peak RSS against the budget of issue 9 (10 x the default 4 MiB
# output limit + 20 MB). Loopback only; it stops after 20 s at the most.
import socket, sys, time, threading
port, pid = int(sys.argv[1]), int(sys.argv[2])
def rss():
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
before = rss()
stop = time.time() + 20
closed = [0]
def flood(i):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.bind((f"127.0.0.{2+i}", 0))
    s.connect(("127.0.0.1", port))
    s.settimeout(5)
    data = b"help\r\n" * 10000
    try:
        while time.time() < stop:
            s.sendall(data)
    except OSError:
        closed[0] += 1
ts = [threading.Thread(target=flood, args=(i,)) for i in range(10)]
for t in ts: t.start()
peak = before
while any(t.is_alive() for t in ts):
    peak = max(peak, rss()); time.sleep(0.05)
print(f"before {before/1e6:.1f} MB, peak {peak/1e6:.1f} MB, growth {(peak-before)/1e6:.1f} MB "
      f"(budget 10 x 4 MiB + 20 MB = {(10*4*2**20+20e6)/1e6:.1f} MB); {closed[0]} of 10 flooders closed by the server")
