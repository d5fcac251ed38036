"""Render: an `Issue` into the email's HTML and text, the web page, the archive and Atom.

`environment` owns the template search path and the filters, `email` the
context and the three page renders, `inline` MJML and CSS inlining, `budget`
the size cut, `theme` the checked theme values, `i18n` the fixed words and
dates, `atom` the archive's feed. It reads templates, never the network, the
store or output/.
"""
