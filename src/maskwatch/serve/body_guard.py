"""Limits on request bodies while they arrive: a client that sends slowly, or stops half-way,
must not hold the server's memory. Pure ASGI, outermost, for POST requests only:

- bytes in flight: the declared sizes of the uploads being received at once are capped; one more
  is refused at once (503, with Retry-After) rather than buffered;
- time: the whole body must arrive within `body_timeout` seconds and no gap between two parts may
  exceed `idle_timeout`; a late one gets 408 and its connection is closed.

Once a body is complete, the request goes on untouched (streaming responses included).
"""

from __future__ import annotations

import asyncio
import json

BODY_TIMEOUT_S = 60.0  # the whole body
IDLE_TIMEOUT_S = 10.0  # between two of its parts


class BodyGuard:
    def __init__(self, app, max_in_flight: int, body_timeout: float = BODY_TIMEOUT_S, idle_timeout: float = IDLE_TIMEOUT_S):
        self.app = app
        self.max_in_flight = max_in_flight
        self.body_timeout = body_timeout
        self.idle_timeout = idle_timeout
        self.in_flight = 0  # bytes declared by the POST bodies being received now
        self.refused = self.timed_out = 0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        try:
            length = int(headers.get(b"content-length", b"0") or 0)
        except ValueError:
            length = 0  # the app answers a bad Content-Length
        if length and self.in_flight + length > self.max_in_flight:
            self.refused += 1
            return await _answer(send, 503, "the server is receiving too many uploads at once: try again shortly", {"retry-after": "5"})
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.body_timeout
        state = {"done": length == 0, "late": False, "started": False}
        self.in_flight += length

        async def guarded_receive():
            if state["done"]:
                return await receive()
            wait = min(self.idle_timeout, deadline - loop.time())
            try:
                if wait <= 0:
                    raise asyncio.TimeoutError
                message = await asyncio.wait_for(receive(), timeout=wait)
            except asyncio.TimeoutError:
                state["late"] = True
                return {"type": "http.disconnect"}  # the app stops reading; the answer is ours
            if message["type"] != "http.request" or not message.get("more_body", False):
                state["done"] = True
            return message

        async def guarded_send(message):
            if state["late"]:
                return  # whatever the app answers to a body that never came, 408 goes instead
            state["started"] = True
            await send(message)

        try:
            await self.app(scope, guarded_receive, guarded_send)
        finally:
            self.in_flight -= length
        if state["late"] and not state["started"]:
            self.timed_out += 1
            await _answer(
                send,
                408,
                f"the upload did not arrive in time ({self.body_timeout:g} s in all, {self.idle_timeout:g} s between parts)",
                {"connection": "close"},
            )


async def _answer(send, status: int, message: str, headers: dict | None = None) -> None:
    body = json.dumps({"error": message}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
