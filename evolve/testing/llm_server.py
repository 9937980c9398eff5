"""A scripted OpenAI chat-completions server on 127.0.0.1, for tests and benchmarks without a real API.

It speaks real HTTP (the openai SDK and litellm talk to it as to any OpenAI-compatible endpoint; GET
/v1/models and Ollama's /api/tags list `models`; POST /api/chat answers as Ollama's native API does) and
replays scripted replies in order: text with usage tokens, reasoning (in a `reasoning_content` field, as
vLLM and DeepSeek send it), HTTP errors (429 with Retry-After, 500), slow replies, bodies cut short,
malformed JSON, HTML error pages, replies without usage. Every answer carries an `x-request-id` header. When the script runs out it asks `responder` (if any),
then answers `default` (if any), else HTTP 400 "script exhausted". Every request is recorded.

    with ScriptedLLMServer([Reply.text("hi", prompt_tokens=10)]) as server:
        ...  # point a client at server.url ("http://127.0.0.1:PORT/v1")

Command line (for manual runs and benchmarks): python -m evolve.testing.llm_server --script replies.json
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    """One scripted answer to a chat-completions request."""

    content: str = ""
    status: int = 200
    delay_s: float = 0.0  # wait before answering (a slow model)
    retry_after: float | None = None  # sent as a Retry-After header
    truncate: bool = False  # announce the full Content-Length, send half the body, close the connection
    raw_body: str | None = None  # sent verbatim instead of a JSON completion (e.g. malformed JSON)
    prompt_tokens: int | None = None  # default: about one token per four characters of the messages
    completion_tokens: int | None = None  # default: about one token per four characters of the content
    finish_reason: str = "stop"
    error: str | None = None  # message of the error body for status >= 400
    reasoning: str | None = None  # sent as message.reasoning_content (vLLM, DeepSeek, some gateways)
    usage: bool = True  # False: the body has no `usage` (some local servers and proxies)
    content_type: str = "application/json"  # of raw_body (e.g. text/html for a proxy's error page)

    @classmethod
    def html_error_page(cls, status: int = 200) -> Reply:
        """What a proxy or load balancer in front of the model sends when the upstream is down."""
        return cls(status=status, raw_body="<html><head><title>502 Bad Gateway</title></head><body><center>"
                   "<h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>",
                   content_type="text/html")

    @classmethod
    def text(cls, content: str, **kw: Any) -> Reply:
        return cls(content=content, **kw)

    @classmethod
    def rate_limited(cls, retry_after: float = 1.0) -> Reply:
        return cls(status=429, retry_after=retry_after, error="rate limit reached, retry later")

    @classmethod
    def server_error(cls, status: int = 500) -> Reply:
        return cls(status=status, error="internal server error")

    @classmethod
    def slow(cls, content: str, delay_s: float, **kw: Any) -> Reply:
        return cls(content=content, delay_s=delay_s, **kw)

    @classmethod
    def truncated(cls, content: str = "a reply that never arrives whole", **kw: Any) -> Reply:
        return cls(content=content, truncate=True, **kw)

    @classmethod
    def from_json(cls, item: str | Mapping[str, Any]) -> Reply:
        """A reply from a script file entry: a string (the content) or a dict of Reply fields."""
        if isinstance(item, str):
            return cls(content=item)
        known = {f.name for f in fields(cls)}
        bad = set(item) - known
        if bad:
            raise ValueError(f"unknown reply fields {sorted(bad)}; use {sorted(known)}")
        return cls(**item)


@dataclass(frozen=True)
class RecordedRequest:
    """A request the server received (and what it answered)."""

    path: str
    method: str
    headers: dict[str, str]  # names in lower case
    body: dict[str, Any] | None
    reply: Reply | None = None
    usage: dict[str, int] = field(default_factory=dict)
    at: float = 0.0

    @property
    def model(self) -> str | None:
        return None if self.body is None else self.body.get("model")

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [] if self.body is None else list(self.body.get("messages") or [])

    @property
    def prompt_text(self) -> str:
        return "\n".join(str(m.get("content", "")) for m in self.messages)


Responder = Callable[[RecordedRequest], "Reply | str | None"]


class ScriptedLLMServer:
    """A real HTTP server speaking the OpenAI chat-completions protocol, replaying scripted replies."""

    def __init__(self, script: Iterable[Reply | str] = (), *, default: Reply | str | None = None,
                 responder: Responder | None = None, models: Iterable[str] | None = None,
                 api_key: str | None = None, list_models: bool = True, port: int = 0,
                 root: str = "") -> None:
        self._script: deque[Reply] = deque(_as_reply(r) for r in script)
        self.default = None if default is None else _as_reply(default)
        self.responder = responder
        self.models = None if models is None else list(models)
        self.api_key = api_key
        self.list_models = list_models
        #: "/v1": answer only under /v1/ as vLLM and OpenAI do (404 elsewhere); "": under any prefix
        self.root = root.rstrip("/")
        self.requests: list[RecordedRequest] = []
        self.served = 0  # answers sent to chat-completions requests (numbers the request ids)
        self._lock = threading.Lock()
        self._port = port
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> ScriptedLLMServer:
        handler = _make_handler(self)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", self._port), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,),
                                        name="scripted-llm", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> ScriptedLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "start() the server first"
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """The base URL a client is given (OpenAI style, ending in /v1)."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def origin(self) -> str:
        """The server's address without a path (what a user who forgot /v1 passes)."""
        return f"http://127.0.0.1:{self.port}"

    # -- script ----------------------------------------------------------------------------------
    def push(self, *replies: Reply | str) -> None:
        with self._lock:
            self._script.extend(_as_reply(r) for r in replies)

    @property
    def remaining(self) -> int:
        with self._lock:
            return len(self._script)

    @property
    def completions(self) -> list[RecordedRequest]:
        """The chat-completions requests received, in order."""
        with self._lock:
            return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def _next_reply(self, request: RecordedRequest) -> Reply | None:
        with self._lock:
            if self._script:
                return self._script.popleft()
        if self.responder is not None:
            answer = self.responder(request)
            if answer is not None:
                return _as_reply(answer)
        return self.default

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)


def _as_reply(r: Reply | str) -> Reply:
    return r if isinstance(r, Reply) else Reply(content=r)


def _headers(handler: BaseHTTPRequestHandler) -> dict[str, str]:
    return {k.lower(): v for k, v in handler.headers.items()}


def _estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4)


def _make_handler(server: ScriptedLLMServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # Keep-alive, as real servers do: every answer carries its Content-Length, and a cut body closes
        # its connection, so the client sees the cut.
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are two writes: no wait for the first one's ACK

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return None

        def _send_json(self, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def _error(self, status: int, message: str, kind: str = "invalid_request_error",
                   headers: Mapping[str, str] | None = None, code: str | None = None) -> None:
            self._send_json(status, {"error": {"message": message, "type": kind, "param": None, "code": code}},
                            headers)

        def _authorised(self) -> bool:
            return server.api_key is None or self.headers.get("Authorization", "") == f"Bearer {server.api_key}"

        def _refuse_key(self) -> None:
            self._error(401, "Incorrect API key provided.", "invalid_request_error", code="invalid_api_key")

        def _outside_root(self) -> bool:
            if not server.root or self.path.startswith(server.root + "/"):
                return False
            self._error(404, f"no route {self.path}", code="not_found")
            return True

        def do_GET(self) -> None:
            request = RecordedRequest(self.path, "GET", _headers(self), None, at=time.time())
            server._record(request)
            if self._outside_root():
                return
            if not self._authorised():
                self._refuse_key()
                return
            names = server.models or ["scripted-model"]
            if self.path.rstrip("/").endswith("/models") and server.list_models:
                self._send_json(200, {"object": "list", "data": [
                    {"id": m, "object": "model", "created": 0, "owned_by": "scripted"} for m in names]})
                return
            if self.path.rstrip("/") == "/api/tags" and server.list_models:  # Ollama's model list
                self._send_json(200, {"models": [{"name": m, "model": m} for m in names]})
                return
            self._error(404, f"no route {self.path}", code="not_found")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw or b"{}")
            except json.JSONDecodeError:
                body = None
            request = RecordedRequest(self.path, "POST", _headers(self), body, at=time.time())
            ollama = self.path.rstrip("/") == "/api/chat"  # Ollama's native chat API (litellm's ollama_chat/)
            if not ollama and (not self.path.rstrip("/").endswith("/chat/completions") or (
                    server.root and not self.path.startswith(server.root + "/"))):
                server._record(request)
                self._error(404, f"no route {self.path}", code="not_found")
                return
            if not self._authorised():
                server._record(request)  # before the answer: the client's next request may come at once
                self._refuse_key()
                return
            if body is None or not isinstance(body.get("messages"), list):
                server._record(request)
                self._error(400, "the body must be JSON with a 'messages' list")
                return
            model = str(body.get("model", ""))
            if server.models is not None and model not in server.models:
                server._record(request)
                self._error(404, f"The model `{model}` does not exist.", code="model_not_found")
                return
            reply = server._next_reply(request)
            if reply is None:
                server._record(request)
                self._error(400, "scripted server: script exhausted")
                return
            usage = {"prompt_tokens": reply.prompt_tokens if reply.prompt_tokens is not None
                     else _estimate_tokens(request.prompt_text),
                     "completion_tokens": reply.completion_tokens if reply.completion_tokens is not None
                     else _estimate_tokens(reply.content)}
            usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
            server._record(RecordedRequest(request.path, "POST", request.headers, body, reply,
                                           usage if reply.status < 400 else {}, request.at))
            try:
                if ollama:
                    self._answer_ollama(reply, model, usage)
                    return
                self._answer(reply, model, usage)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (e.g. its timeout)
                pass

        def _answer_ollama(self, reply: Reply, model: str, usage: dict[str, int]) -> None:
            """The reply as Ollama's /api/chat sends it when not streaming."""
            if reply.delay_s > 0:
                time.sleep(reply.delay_s)
            if reply.status >= 400:
                self._send_json(reply.status, {"error": reply.error or f"HTTP {reply.status}"})
                return
            message = {"role": "assistant", "content": reply.content}
            if reply.reasoning is not None:
                message["thinking"] = reply.reasoning
            self._send_json(200, {"model": model, "created_at": "2026-01-01T00:00:00Z", "message": message,
                                  "done": True, "done_reason": reply.finish_reason,
                                  "prompt_eval_count": usage["prompt_tokens"], "eval_count": usage["completion_tokens"]})

        def _answer(self, reply: Reply, model: str, usage: dict[str, int]) -> None:
            if reply.delay_s > 0:
                time.sleep(reply.delay_s)
            with server._lock:
                server.served += 1
                n = server.served
            headers = {"x-request-id": f"req-scripted-{n}"}
            if reply.retry_after is not None:
                headers["Retry-After"] = f"{reply.retry_after:g}"
            if reply.status >= 400 and reply.raw_body is None:
                kind = "rate_limit_error" if reply.status == 429 else "server_error"
                self._error(reply.status, reply.error or f"HTTP {reply.status}", kind, headers)
                return
            if reply.raw_body is not None:
                body = reply.raw_body.encode()
            else:
                message = {"role": "assistant", "content": reply.content}
                if reply.reasoning is not None:
                    message["reasoning_content"] = reply.reasoning
                payload: dict[str, Any] = {
                    "id": f"chatcmpl-scripted-{n}", "object": "chat.completion",
                    "created": int(time.time()), "model": model,
                    "choices": [{"index": 0, "finish_reason": reply.finish_reason, "message": message}]}
                if reply.usage:
                    payload["usage"] = usage
                body = json.dumps(payload).encode()
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type if reply.raw_body is not None else "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            if reply.truncate:
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

    return Handler


def main(argv: list[str] | None = None) -> int:
    """Serve a script file (a JSON list of replies: strings, or objects with Reply fields) until Ctrl-C."""
    ap = argparse.ArgumentParser(prog="python -m evolve.testing.llm_server", description=main.__doc__)
    ap.add_argument("--script", help="JSON file: a list of replies")
    ap.add_argument("--default", help="reply text once the script is exhausted")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--model", action="append", help="a model name the server serves (repeatable)")
    args = ap.parse_args(argv)
    replies: list[Reply] = []
    if args.script:
        with open(args.script, encoding="utf-8") as fh:
            replies = [Reply.from_json(item) for item in json.load(fh)]
    server = ScriptedLLMServer(replies, default=args.default, models=args.model, port=args.port).start()
    print(f"scripted OpenAI-compatible server at {server.url} ({len(replies)} scripted replies)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
