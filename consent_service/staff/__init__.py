"""Staff of the controller who work in the console: accounts, roles, passwords, sign-in.

No Flask here: the console's pages and the CLI call the same service functions.
"""
