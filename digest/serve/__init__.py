"""`digest serve`: the web app readers use to subscribe, confirm, choose and leave.

It owns the pages (app.py routes, pages.py templates), the forms' defences
(forms.py: CSRF token, honeypot; rate limits kept in the state, so every process
serving one state shares them). It may import
config, errors, store, issues/files, render (its Jinja environment only) and
mail/ (subscribers, confirmation mails, sends); nothing imports it but the CLI.
"""
