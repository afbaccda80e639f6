"""A small OpenAI-compatible chat server on loopback for tests: deterministic answers, optional delay and faults.

Each reply echoes the last user message and ends with `The answer is: N`, N being the first number in that
message or what the test's `answer_for` says, so every augmenter gets parseable text. `fault_share` of requests
answer with one of `faults` in turn (default: 429 / 500 / empty content / broken JSON), so clients' retries get
exercised. More fault kinds: "timeout" (the reply comes only after `stall_s`: a client with a shorter timeout gives
up) and "disconnect" (the connection closes with no reply). `reject_for(user_text) -> str | None` answers 400 with
that message, a permanent failure like a server's "maximum context length" error.

Rate limits: `max_in_flight` answers 429 to a request that arrives while that many are being served (a server
with that capacity); `burst_429=(after, count)` answers 429 to `count` requests after the first `after`; each 429
carries `Retry-After: retry_after` when given. `arrivals` holds (time.monotonic(), status) of every chat request.

`hold_after=k` answers the first k chat requests, then holds every later one until `release()` (or the server's
end): a run stopped mid-way cannot have finished first, however slow the machine.
`keep_alive=True` serves HTTP/1.1 keep-alive connections (default: one request per connection); `connections`
counts the connections accepted.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_NUMBER = re.compile(r"\d+(?:\.\d+)?")


class _Server(ThreadingHTTPServer):
    # a listen backlog of 5 (the default) drops connections when many clients connect at once on a loaded
    # machine: the client then retries a fault the server never saw, and the tests count retries exactly
    request_queue_size = 256


class FakeOpenAI:
    FAULTS = ("429", "500", "empty", "json", "timeout", "disconnect")

    def __init__(
        self,
        delay_s: float = 0.0,
        fault_share: float = 0.0,
        answer_for=None,
        faults: tuple[str, ...] = ("429", "500", "empty", "json"),
        stall_s: float = 5.0,
        reject_for=None,
        max_in_flight: int | None = None,
        burst_429: tuple[int, int] | None = None,
        retry_after: str | None = None,
        hold_after: int | None = None,
        keep_alive: bool = False,
    ) -> None:
        """`answer_for(user_text) -> str | None` picks the final answer (default: the first number in the text)."""
        unknown = set(faults) - set(self.FAULTS)
        assert not unknown, f"unknown fault kinds {unknown}"
        self.answer_for = answer_for
        self.reject_for = reject_for
        self.delay_s = delay_s
        self.fault_share = fault_share
        self.fault_kinds = tuple(faults)
        self.stall_s = stall_s
        self.requests = 0
        self.faults = 0
        self.fault_counts: Counter[str] = Counter()  # per kind, "400" included
        self.max_in_flight = max_in_flight
        self.burst_429 = burst_429
        self.retry_after = retry_after
        self.in_flight = 0
        self.peak_in_flight = 0
        self.chat_requests = 0
        self.arrivals: list[tuple[float, int]] = []
        self.hold_after = hold_after
        self.connections = 0  # TCP connections accepted
        self._released = threading.Event()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def setup(self) -> None:
                super().setup()
                with server._lock:
                    server.connections += 1

            def log_message(self, *args) -> None:
                pass

            def _send(self, status: int, body: bytes) -> None:
                try:
                    self.send_response(status)
                    if status == 429 and server.retry_after is not None:
                        self.send_header("Retry-After", server.retry_after)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up first (a timeout fault)

            def do_GET(self) -> None:
                self._send(200, json.dumps({"object": "list", "data": [{"id": "fake", "object": "model"}]}).encode())

            def do_POST(self) -> None:
                limited = server._enter()
                try:
                    if limited:
                        return self._send(429, b'{"error": {"message": "rate limited"}}')
                    return self._chat()
                finally:
                    server._leave(limited)

            def _chat(self) -> None:
                try:
                    request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                except (ValueError, TypeError):  # e.g. a client killed while sending
                    return self._send(400, b'{"error": {"message": "the request body is not JSON"}}')
                if request["model"] == "missing":
                    return self._send(404, b'{"error": {"message": "The model `missing` does not exist."}}')
                user = [m["content"] for m in request["messages"] if m["role"] == "user"][-1]
                rejection = server.reject_for and server.reject_for(user)
                if rejection:
                    with server._lock:
                        server.requests += 1
                        server.fault_counts["400"] += 1
                    return self._send(400, json.dumps({"error": {"message": rejection}}).encode())
                fault = server._next_fault()
                if server.hold_after is not None and server.requests > server.hold_after:
                    server._released.wait()
                time.sleep(server.delay_s + (server.stall_s if fault == "timeout" else 0.0))
                if fault == "disconnect":
                    self.close_connection = True
                    return None
                if fault == "429":
                    return self._send(429, b'{"error": {"message": "slow down"}}')
                if fault == "500":
                    return self._send(500, b'{"error": {"message": "boom"}}')
                if fault == "json":
                    return self._send(200, b'{"id": "x", "choices": [')
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

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def _enter(self) -> bool:
        """Count a chat request in; True when the rate limits answer it with 429."""
        with self._lock:
            self.chat_requests += 1
            limited = self.max_in_flight is not None and self.in_flight >= self.max_in_flight
            if self.burst_429 is not None:
                after, count = self.burst_429
                limited = limited or after < self.chat_requests <= after + count
            self.arrivals.append((time.monotonic(), 429 if limited else 200))
            if limited:
                self.fault_counts["429-limit"] += 1
            else:
                self.in_flight += 1
                self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            return limited

    def _leave(self, limited: bool) -> None:
        if not limited:
            with self._lock:
                self.in_flight -= 1

    def _next_fault(self) -> str | None:
        with self._lock:
            self.requests += 1
            if self.fault_share <= 0 or (self.requests * self.fault_share) % 1 >= self.fault_share:
                return None
            self.faults += 1
            kind = self.fault_kinds[self.faults % len(self.fault_kinds)]
            self.fault_counts[kind] += 1
            return kind

    def release(self) -> None:
        """Answer the held requests and every later one."""
        self._released.set()

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
        self.httpd.shutdown()
        self.httpd.server_close()


def oracle(problems: list[dict]):
    """`answer_for` giving right answers for these problems and their masked versions, as a strong model would."""
    from augmenters.masking import mask_candidates

    known = {}
    for problem in problems:
        known[problem["question"]] = problem["answer"]
        for mask in mask_candidates(problem["question"]):
            known[mask.apply(problem["question"])] = mask.value

    def answer_for(text: str) -> str | None:
        # the longest known question inside the text: a masked question contains no unmasked original
        hits = [q for q in known if q in text]
        return known[max(hits, key=len)] if hits else None

    return answer_for
