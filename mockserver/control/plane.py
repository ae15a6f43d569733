"""The run-time state a test drives through /__mock, as one value: what the control routes are given.

Everything here lives in the store (or, for a memory store, in the objects themselves), so every
worker sharing a store sees the same clock, queues, faults, journal and webhook endpoints.
"""

from __future__ import annotations

from dataclasses import dataclass

from mockserver.control.faults import FaultBook
from mockserver.control.journal import Journal
from mockserver.control.webhooks import WebhookDispatcher
from mockserver.core.clock import Clock
from mockserver.core.outcomes import OutcomeQueue
from mockserver.core.videos import SALT_ID, SALT_KIND
from mockserver.store import Store


@dataclass(frozen=True)
class ControlPlane:
    store: Store
    clock: Clock
    outcomes: OutcomeQueue
    faults: FaultBook
    journal: Journal
    webhooks: WebhookDispatcher
    key_salt: str  # of key fingerprints (core/keys.owner_of): an `api_key` in a control call becomes an owner

    def boot(self) -> None:
        """Put this configuration's start-up faults and webhook endpoints into the store.

        They replace those of an earlier run on the same store; jobs, the clock and whatever was set
        at run time stay. With several workers the parent process boots once, before they start.
        """
        self.faults.install_startup()
        self.webhooks.install_startup()

    def reset(self) -> int:
        """Everything back to start-up state; returns how many jobs were forgotten.

        The start-up faults (flags and config file) come back, not "no faults": a server started with
        --rate-limit keeps being rate-limited. The clock returns to real time and the id and fault
        randomness is re-seeded, so a --seed run replays the same ids after every reset.
        """
        jobs = len(self.store)
        self.store.clear()  # jobs, journal, outcome queues, faults and their counters, the clock, id counters
        # The fingerprint salt stays: other workers keep using it, and keys must keep their owners.
        self.store.put_doc(SALT_KIND, SALT_ID, self.key_salt)
        self.journal.reset()  # a memory store's journal is the journal's own
        self.faults.reset()  # re-seeds this process's randomness
        self.webhooks.reset()  # cancels deliveries still retrying
        self.boot()
        return jobs

    def reset_owner(self, owner: str) -> int:
        """Forget what belongs to one API key (jobs, journal, queue, faults, webhooks); returns the jobs removed.

        The clock stays: it is shared by every key.
        """
        removed = 0
        while True:  # page from the start each time: deleted entries are skipped, so this terminates
            page = self.store.page(owner, after=None, limit=500, descending=False)
            for job in page.jobs:
                removed += self.store.delete(job.id)
            if not page.jobs:
                break
        self.journal.clear(owner)
        self.outcomes.clear(owner)
        self.faults.remove(owner=owner)
        self.webhooks.reset(owner)
        return removed
