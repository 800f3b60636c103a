"""``consent-service users``: staff accounts of the console."""

from __future__ import annotations

import sys

import click

from consent_service.cli.base import Group, _context, main


@main.group(cls=Group)
def users() -> None:
    """Staff accounts of the console (roles: admin, dpo, agent, auditor)."""


@users.command("create")
@click.option("--email", required=True)
@click.option("--role", required=True, type=click.Choice(["admin", "dpo", "agent", "auditor"]))
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
def users_create(email: str, role: str, password_stdin: bool) -> None:
    """Create an account; without --password-stdin print a one-time password to change at first sign-in."""
    from consent_service.staff.service import create_user

    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    user, one_time = create_user(_context(), email=email, role=role, password=password, actor="cli")
    click.echo(f"created {user['id']} {user['email']} ({user['role']})", err=True)
    if one_time:
        click.echo("one-time password (change it at the first sign-in):", err=True)
        click.echo(one_time)


@users.command("list")
def users_list() -> None:
    """List the accounts (never a password)."""
    from consent_service.staff.service import list_users

    for u in list_users(_context()):
        state = "disabled" if u["disabled"] else "active"
        last = u["last_sign_in_at"].isoformat() if u["last_sign_in_at"] else "never signed in"
        click.echo(f"{u['id']}  {state:8}  {u['role']:7}  {u['email']}  {last}")


@users.command("disable")
@click.argument("email_or_id")
def users_disable(email_or_id: str) -> None:
    """Disable an account: it can no longer sign in."""
    from consent_service.staff.service import disable_user

    user = disable_user(_context(), email_or_id, actor="cli")
    click.echo(f"disabled {user['id']} {user['email']}")


@users.command("reset-password")
@click.argument("email_or_id")
def users_reset_password(email_or_id: str) -> None:
    """Print a one-time password for the account (to change at the next sign-in); ends a lock-out."""
    from consent_service.staff.service import reset_password

    user, one_time = reset_password(_context(), email_or_id, actor="cli")
    click.echo(f"one-time password for {user['email']} (change it at the next sign-in):", err=True)
    click.echo(one_time)


@users.command("reset-2fa")
@click.option("--email", required=True, help="the account's e-mail address (or id)")
def users_reset_2fa(email: str) -> None:
    """Remove an account's second factor (a lost device); it may enrol again. Ends a lock-out."""
    from consent_service.staff.totp import reset

    user = reset(_context(), email, actor="cli")
    click.echo(f"removed the second factor of {user['id']} {user['email']}")
