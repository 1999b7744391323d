"""What every recorder and listener of one deployment shares, apart from the listener
itself: the window builds it before it is shown, and the listener (its web server and
its SDKs) loads afterwards."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from recconsole.core.recording_limits import StartedRecordings
from recconsole.server.locks import (
    EffectClaims,
    EgressLedger,
    LocalEffectClaims,
    LocalEgressLedger,
    LocalRecordingLocks,
    RecordingLocks,
    RedisEffectClaims,
    RedisEgressLedger,
    RedisRecordingLocks,
)
from recconsole.server.registry import FileStartedRecordings, RedisStartedRecordings
from recconsole.settings import Settings, user_data_dir

if TYPE_CHECKING:
    from redis.asyncio import Redis


def started_path(data_dir: Path | None = None) -> Path:
    return (data_dir or user_data_dir()) / "recordings.sqlite3"


@dataclass
class SharedState:
    """What every recorder and listener of one deployment shares: the recording locks,
    the egress ledger, the effect claims and the started recordings — in Redis with
    ``REDIS_URL``, else in this process (locks) and in files of the data folder."""

    locks: RecordingLocks
    ledger: EgressLedger
    claims: EffectClaims
    started: StartedRecordings
    redis: Redis | None = None

    @classmethod
    def from_settings(cls, settings: Settings, data_dir: Path | None = None) -> SharedState:
        if settings.redis_url:
            from redis.asyncio import from_url  # imported only when configured

            redis = from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)
            return cls(RedisRecordingLocks(redis), RedisEgressLedger(redis),
                       RedisEffectClaims(redis), RedisStartedRecordings(redis), redis)
        return cls(LocalRecordingLocks(), LocalEgressLedger(), LocalEffectClaims(),
                   FileStartedRecordings(started_path(data_dir)))

    async def aclose(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()
            self.redis = None
