"""Mail: getting a written issue to readers, each exactly once.

`send` is one run over the list and `worker` one connection's share of it
(leased claims, outcomes, the shared rate, retries), `smtp` the connection,
`unknowns` the settling of unanswered messages, `subscribers` the list and
its tokens, `schedule` the cron loop that builds and sends (one leader per
state). With `build/`, the only place that wires stages together; all its SQL
is in `store/`.
"""
