"""What the tests and the benches share: a newsroom written on the fly, the checks that
nothing executable reaches an output, and a labelled set of abusive comments.

Kept outside `tests/` so that `bench/` never imports a test module.
"""
