#!/usr/bin/env python3
"""Start an example server on a free port and exchange real traffic with it.

    check.py echo SERVER     # tcp_echo: several connections, varied sizes
    check.py http SERVER     # http_plaintext: keep-alive and pipelining

Exits 0 on success; used by meson test (suite 'examples')."""
import os
import socket
import subprocess
import sys
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def connect(port, deadline):
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.05)


def recv_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise AssertionError(f"connection closed after {len(data)} of {n} bytes")
        data += chunk
    return data


def check_echo(port):
    conns = [connect(port, time.time() + 10) for _ in range(8)]
    for round_ in range(20):
        for i, c in enumerate(conns):
            msg = bytes([(i + round_ + k) % 251 for k in range(1 + 997 * i % 20000)])
            c.sendall(msg)
            assert recv_exact(c, len(msg)) == msg, "echo mismatch"
    big = os.urandom(1 << 20)  # 1 MiB, forcing partial writes both ways
    c = conns[0]
    c.setblocking(True)
    import threading
    t = threading.Thread(target=c.sendall, args=(big,))
    t.start()
    got = recv_exact(c, len(big))
    t.join()
    assert got == big, "1 MiB echo mismatch"
    for c in conns:
        c.close()


def check_http(port):
    c = connect(port, time.time() + 10)
    req = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    body = b"Hello, World!"
    for _ in range(50):  # keep-alive
        c.sendall(req)
        resp = b""
        while not resp.endswith(body):
            chunk = c.recv(4096)
            assert chunk, "closed"
            resp += chunk
        assert resp.startswith(b"HTTP/1.1 200 OK\r\n"), resp
        assert b"Content-Type: text/plain" in resp
    c.sendall(req * 3)  # pipelined
    resp = b""
    while resp.count(body) < 3:
        chunk = c.recv(4096)
        assert chunk, "closed"
        resp += chunk
    c.close()


def main():
    kind, server = sys.argv[1], sys.argv[2]
    port = free_port()
    env = dict(os.environ, PORT=str(port), WORKERS="2")
    proc = subprocess.Popen([server], env=env)
    try:
        (check_echo if kind == "echo" else check_http)(port)
        assert proc.poll() is None, "server exited"
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
    print(f"{kind}: ok on port {port}")


if __name__ == "__main__":
    main()
