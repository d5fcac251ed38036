"""Mail: getting a written issue to readers, each exactly once.

`send` is the loop over the list (claims, outcomes, rate, retries), `smtp`
the connection, `lock` one sender per state file, `subscribers` the list and
its tokens, `schedule` the cron loop that builds and sends. With `build.py`,
the only place that wires stages together; all its SQL is in `store.py`.
"""
