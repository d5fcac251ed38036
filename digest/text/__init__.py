"""Text: strangers' HTML made safe, articles read, sentences found, summaries chosen.

`sanitise` turns untrusted markup into plain text and http(s) URLs, `blocks`
types it (paragraph, heading, list item, quote, code, caption, table, embed,
notice), `extract` reads an article from its feed entry or page, `boilerplate`
learns what a feed repeats, `splitting`, `cjk`, `sentences` and `languages`
split and label text, `summarise` picks the sentences and `opening` falls
back to the article's own opening. Pure functions over text: the summary
cache is read and written by the build, never here.
"""
