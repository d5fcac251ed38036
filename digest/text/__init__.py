"""Text: strangers' HTML made safe, articles read, sentences found, summaries chosen.

`sanitise` turns untrusted markup into plain text and http(s) URLs, `extract`
reads an article page, `sentences` and `languages` split and label text, and
`summarise` picks the sentences (`cached_summary` keeps the policy of when a
stored summary is reused). Pure functions over text; the summary cache is
passed in, never imported.
"""
