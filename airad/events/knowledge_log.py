"""The knowledge-log boundary: per-domain streams of knowledge events, fenced like a run's events.

The JetStream and in-memory implementations are the run event logs with the domain as the key.
"""

from __future__ import annotations

from typing import Protocol

import nats.js.errors

from airad.events.in_memory import InMemoryEventLog
from airad.events.jetstream import KNOWLEDGE_PREFIX, JetStreamEventLog
from airad.events.log import KNOWLEDGE_EVENTS, EventLog
from airad.schemas.knowledge_events import KnowledgeEvent


class KnowledgeLog(EventLog[KnowledgeEvent], Protocol):
    """Per-domain streams with a gapless `seq` (an `EventLog` keyed by domain) that lists its domains."""

    async def domains(self) -> list[str]:
        """Every domain with at least one event, sorted."""
        ...


def knowledge_subject(domain: str) -> str:
    """The subject that holds one domain's knowledge events."""
    return KNOWLEDGE_PREFIX + domain


class JetStreamKnowledgeLog(JetStreamEventLog):
    """KnowledgeLog over the AIRAD_KNOWLEDGE stream: `Nats-Msg-Id = <domain>:<seq>` and the fence on the
    domain's last subject sequence, exactly as run events."""

    def __init__(self, js):
        super().__init__(js, KNOWLEDGE_EVENTS)

    async def domains(self) -> list[str]:
        """The domains whose subjects hold messages."""
        try:
            return await self.ids()
        except nats.js.errors.NotFoundError:
            return []


class InMemoryKnowledgeLog(InMemoryEventLog[KnowledgeEvent]):
    """A KnowledgeLog in a dict, for unit tests."""

    def __init__(self):
        super().__init__(KNOWLEDGE_EVENTS)

    async def domains(self) -> list[str]:
        """The domains with events."""
        return sorted(domain for domain, events in self.streams.items() if events)
