"""GSLTS sub-server: the tick hub that owns the one upstream Kiwoom WebSocket.

The package by role — each module has one job, and :class:`gslts_hub.hub.Hub` composes
them (builds each part with what it needs and one injected clock, starts and stops the
threads, answers for the watchlist):

=====================  ==================================================================
**live path**
``collector``          the WebSocket: start/stop by the schedule, registrations per owner
                       (``top``, ``watchlist``, ``interest``), 00/04 and 1h VI, the
                       socket's states (a disconnect opens gaps)
``ingest``             each socket batch: journal first, then per-stock state (grouped
                       path, per-trade path) and the bus (tick batches, quotes)
``books``              0D conflation: per-stock publish rate, storage samples, deferred
                       decoding
``stocks``             per-stock live state (``StockState``)
``payloads``           what goes on the bus besides tick batches (books, 00/04, candles)
``spool``, ``journal`` the crash-safe append-only journal, and its front that keeps
                       records in memory while the disk fails
``vi``                 per-stock volatility interruptions (silence expected)
**gaps**
``gaps``               the gap tracker: awaited first trades, following trades, stream
                       holes, gaps on disk, the walk queue, retries
``gap_queue``          one waiting walk per stock (a new gap merges into it)
``pending_gaps``       open gaps on disk: a restart, even ``kill -9``, walks them again
``backfill``           the walks themselves (ka10079 backward/forward reconstruction: pure)
``backfill_worker``    the backfill thread: walks queued gaps, journals what they find
**storage**
``writer``,            journal → database (``LOAD DATA``/``INSERT IGNORE``) and 1-minute
``writer_proc``        candles; in a child process on MySQL/MariaDB
``candles``, ``rows``  candle aggregation; the journal's record format
``repository``         every SQL query the hub makes besides the writer's (schema,
                       partitions, restart anchors, universe history, names, tick pages,
                       size, health probe)
``watchlist``          the watchlist table (writes retried under contention)
**control**
``control``            the control loop: schedule, database retry, partitions, token,
                       gap jobs, counters → events, the top-N universe refresh
``schedule``,          KRX hours and calendar; top-N membership with hysteresis;
``universe``,          leases other services take on stocks (the interest API)
``interest``
**reporting and API**
``status``             the ``/api/status`` snapshot and ``/api/health``'s reasons
``metrics``            ``/metrics`` (Prometheus), read from live counters at scrape time
``app``,               the FastAPI app (tick history, status, watchlist, monitoring page,
``interest_api``,      the bus at ``/bus/stream``), the interest routes, Host/body/HEAD
``middleware``         guards
``settings``, ``main`` ``HubSettings``; ``python -m gslts_hub``
``memory``             a burst's freed heap back to the system (``malloc_trim``)
=====================  ==================================================================

Threads (each owns its state; shared counters are plain ints, read racily for status):

* **socket** (``KiwoomWebSocket``'s thread) calls :meth:`gslts_hub.ingest.Ingest.on_events`
  with each batch of decoded events (the frames of one socket read): trades and sampled
  books become **one** journal record per batch (``journal.append`` = one ``write(2)``;
  after it returns the ticks survive a crash of the hub), then per-stock state and the
  bus are updated. Nothing slow happens there.
* **writer** (:class:`~gslts_hub.writer.JournalWriter`) tails the journal into the DB and
  maintains 1-minute candles — in a child process on MySQL/MariaDB
  (:mod:`gslts_hub.writer_proc`, its own GIL), a thread on SQLite.
* **control** (:mod:`gslts_hub.control`) runs the schedule once a second: connect/stop by
  the KRX calendar, universe refresh, daily partitions, token refresh, and the gap jobs.
* **backfill** (:mod:`gslts_hub.backfill_worker`) walks the gaps the tracker queues.

The parts below the composition never import it (``hub``, ``app``): an import-linter
contract in ``pyproject.toml`` keeps it so. ``control`` and ``status`` see the whole hub
(they drive and report on all of it) through a type-only import.
"""
