"""Double opt-in: a grant for an e-mail subject on a purpose that asks for confirmation is
recorded as ``pending`` and only a confirmed link makes it effective.

``models`` (the confirmation links), ``service`` (start, open, confirm, resend, purge: the one
place the rules live, called by the API, the public page and the CLI) and ``mail`` (the
confirmation e-mail in the person's language). A layer above ``dsar``: it writes its e-mails to
the outbox in the ledger write's own transaction.
"""
