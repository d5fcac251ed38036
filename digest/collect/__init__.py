"""Collect: bytes from the network or disk, and the feeds in them.

`fetcher` is the only HTTP client (limits per host and overall, conditional
GET, size and time caps, redirects); `feeds` turns RSS, Atom, RDF and (through
`jsonfeed`) JSON Feed into `Entry` records. It imports `config`, `models`,
`errors` and `text.sanitise`, never the store or a later stage.
"""
