"""Wake-ups for live streams when events are committed.

The bus carries no data, only "workspace N has new events": streams then
read the outbox (`EventRecord`), which is the single source of truth. So a
lost wake-up only delays an event until the stream's next heartbeat poll.

Embedded, the bus is in-process. With HUBBUB_REDIS_URL it is Redis pub/sub,
so a commit in one `hubbub serve` process wakes streams in every other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator
from functools import cache

import redis
import redis.asyncio as aredis
from django.conf import settings

logger = logging.getLogger(__name__)
CHANNEL = "hubbub:events"
REDIS_RETRY_SECONDS = 10.0


class Waiter:
    """One stream's wake-up flag, bound to the event loop that waits on it."""

    def __init__(self, workspace_id: int) -> None:
        self.workspace_id = workspace_id
        self._flag = asyncio.Event()
        self._loop = asyncio.get_running_loop()

    def clear(self) -> None:
        self._flag.clear()

    def wake(self) -> None:
        # Called from whichever thread committed the transaction.
        self._loop.call_soon_threadsafe(self._flag.set)

    async def wait(self, timeout: float) -> bool:
        """True when woken, False when the timeout passed first."""
        try:
            await asyncio.wait_for(self._flag.wait(), timeout)
        except TimeoutError:
            return False
        return True


class LocalBus:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[int, set[Waiter]] = {}

    def notify(self, workspace_id: int) -> None:
        self.wake_local(workspace_id)

    def wake_local(self, workspace_id: int) -> None:
        with self._lock:
            waiters = list(self._waiters.get(workspace_id, ()))
        for waiter in waiters:
            with contextlib.suppress(RuntimeError):  # its loop has closed
                waiter.wake()

    async def start(self) -> None:
        """Hook for buses that need a background listener."""

    @contextlib.asynccontextmanager
    async def waiter(self, workspace_id: int) -> AsyncIterator[Waiter]:
        await self.start()
        waiter = Waiter(workspace_id)
        with self._lock:
            self._waiters.setdefault(workspace_id, set()).add(waiter)
        try:
            yield waiter
        finally:
            with self._lock:
                self._waiters.get(workspace_id, set()).discard(waiter)


class RedisBus(LocalBus):
    def __init__(self, url: str) -> None:
        super().__init__()
        self._url = url
        self._client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._listeners: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}
        self._down_until = 0.0

    def notify(self, workspace_id: int) -> None:
        # While Redis is known to be down, do not make every commit wait for
        # a connection timeout; try again after a pause.
        if time.monotonic() >= self._down_until:
            try:
                self._client.publish(CHANNEL, str(workspace_id))
            except redis.RedisError:
                self._down_until = time.monotonic() + REDIS_RETRY_SECONDS
                logger.warning("could not publish wake-up to Redis; streams will poll")
            else:
                return
        # Streams poll the outbox at every heartbeat, so the event still
        # arrives everywhere; this process's streams hear of it at once.
        self.wake_local(workspace_id)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        task = self._listeners.get(loop)
        if task is None or task.done():
            self._listeners[loop] = loop.create_task(self._listen())
            # Give the subscription a moment so an event published right
            # after a stream opens is not missed.
            await asyncio.sleep(0.05)

    async def _listen(self) -> None:
        delay = 0.5
        while True:
            try:
                client = aredis.Redis.from_url(self._url)
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    delay = 0.5
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self.wake_local(int(message["data"]))
            except asyncio.CancelledError:
                raise
            except (redis.RedisError, OSError, ValueError):
                logger.warning("Redis pub/sub listener lost its connection; retrying")
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)


@cache
def _bus_for(url: str) -> LocalBus:
    return RedisBus(url) if url else LocalBus()


def get_bus() -> LocalBus:
    return _bus_for(settings.HUBBUB_REDIS_URL)
