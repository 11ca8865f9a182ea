"""A minimal server-sent-events client on a raw socket, for tests that need to control reading."""

import json
import socket
import time


class SseClient:
    """Opens GET /stream on `server`: a port on 127.0.0.1, or a harness server object (its host,
    port and, for HTTPS, its TLS context). Chunked responses, as proxies send them, are decoded."""

    def __init__(self, server, token, last_event_id=None, receive_buffer=None, query=""):
        host, port, context = "127.0.0.1", server, None
        if not isinstance(server, int):
            host = getattr(server, "host", "127.0.0.1")
            port = server.port
            context = getattr(server, "context", None)
        self.sock = socket.socket()
        if receive_buffer:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.connect((host, port))
        if context is not None:
            self.sock = context.wrap_socket(self.sock, server_hostname=host)
        headers = "GET /stream?token=%s%s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n" % (
            token, query, host)
        if last_event_id is not None:
            headers += "Last-Event-ID: %s\r\n" % last_event_id
        self.sock.sendall((headers + "\r\n").encode())
        self.buffer = b""
        self.chunked = False
        self.raw = b""  # undecoded bytes of a chunked body
        self.status = None
        self.headers = {}
        self.closed = False
        self._read_head()

    def _fill(self, timeout):
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return False
        except OSError:
            chunk = b""
        if not chunk:
            self.closed = True
            return False
        if self.chunked:
            self.raw += chunk
            self._decode_chunks()
        else:
            self.buffer += chunk
        return True

    def _decode_chunks(self):
        while b"\r\n" in self.raw:
            size_line, rest = self.raw.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                self.closed = True
                self.raw = b""
                return
            if len(rest) < size + 2:
                return
            self.buffer += rest[:size]
            self.raw = rest[size + 2:]

    def _read_head(self, timeout=5):
        deadline = time.time() + timeout
        while b"\r\n\r\n" not in self.buffer:
            if not self._fill(max(0.01, deadline - time.time())) and (self.closed or time.time() > deadline):
                raise AssertionError("no response head")
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        self.status = int(lines[0].split()[1])
        for line in lines[1:]:
            key, _, value = line.partition(":")
            self.headers[key.strip().lower()] = value.strip()
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            self.chunked = True
            self.raw, self.buffer = self.buffer, b""
            self._decode_chunks()

    def next_frame(self, timeout=5.0):
        """Returns the next frame as (id, data dict) or ("comment", text); None on timeout or close."""
        deadline = time.time() + timeout
        while b"\n\n" not in self.buffer:
            remaining = deadline - time.time()
            if remaining <= 0 or (not self._fill(remaining) and self.closed):
                return None
        raw, self.buffer = self.buffer.split(b"\n\n", 1)
        event_id, data = None, None
        for line in raw.decode().split("\n"):
            if line.startswith(":"):
                return ("comment", line[1:].strip())
            if line.startswith("id: "):
                event_id = int(line[4:])
            elif line.startswith("data: "):
                data = json.loads(line[6:])
        return (event_id, data)

    def next_message(self, timeout=5.0):
        """Like next_frame, but skips keep-alive comments."""
        deadline = time.time() + timeout
        while True:
            frame = self.next_frame(max(0.0, deadline - time.time()))
            if frame is None or frame[0] != "comment":
                return frame

    def close(self):
        self.sock.close()
