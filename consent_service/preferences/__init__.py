"""The preference centre and one-click unsubscribe: the person's own view of their choices.

``tokens`` (signed tokens, one kind for each use: the sign-in link, the session, the
unsubscribe link), ``models`` (the sign-in links' nonce hashes, so each signs in once),
``service`` (send a sign-in link, open a session, read the choices, record a change, re-issue
its receipt, unsubscribe: the one place the rules live, called by the pages and the API) and
``mail`` (the sign-in e-mail in the person's language). A layer beside ``optin``: it writes its e-mails to the outbox of ``dsar``.
"""
