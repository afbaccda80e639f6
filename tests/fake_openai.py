"""A small OpenAI-compatible chat server on loopback for tests: deterministic answers, optional delay and faults.

Each reply echoes the last user message and ends with `The answer is: N`, N being the first number in that
message or what the test's `answer_for` says, so every augmenter gets parseable text. `fault_share` of requests
answer 429 / 500 / empty content / broken JSON in turn, so clients' retries get exercised.
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_NUMBER = re.compile(r"\d+(?:\.\d+)?")


class FakeOpenAI:
    def __init__(self, delay_s: float = 0.0, fault_share: float = 0.0, answer_for=None) -> None:
        """`answer_for(user_text) -> str | None` picks the final answer (default: the first number in the text)."""
        self.answer_for = answer_for
        self.delay_s = delay_s
        self.fault_share = fault_share
        self.requests = 0
        self.faults = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._send(200, json.dumps({"object": "list", "data": [{"id": "fake", "object": "model"}]}).encode())

            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if request["model"] == "missing":
                    return self._send(404, b'{"error": {"message": "The model `missing` does not exist."}}')
                fault = server._next_fault()
                time.sleep(server.delay_s)
                if fault == "429":
                    return self._send(429, b'{"error": {"message": "slow down"}}')
                if fault == "500":
                    return self._send(500, b'{"error": {"message": "boom"}}')
                if fault == "json":
                    return self._send(200, b'{"id": "x", "choices": [')
                user = [m["content"] for m in request["messages"] if m["role"] == "user"][-1]
                number = (server.answer_for and server.answer_for(user)) or (_NUMBER.findall(user) or ["0"])[0]
                content = "" if fault == "empty" else f"{user}\nWe work it out.\nThe answer is: {number}"
                n = request.get("n", 1)
                body = {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion",
                    "created": 0,
                    "model": request["model"],
                    "choices": [
                        {"index": i, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
                        for i in range(n)
                    ],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 5 * n, "total_tokens": 10 + 5 * n},
                }
                self._send(200, json.dumps(body).encode())

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def _next_fault(self) -> str | None:
        with self._lock:
            self.requests += 1
            if self.fault_share <= 0 or (self.requests * self.fault_share) % 1 >= self.fault_share:
                return None
            self.faults += 1
            return ("429", "500", "empty", "json")[self.faults % 4]

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
