"""Progress of long commands on stderr: a bar on a terminal, otherwise plain lines that a piped,
scheduled or CI run shows too."""

from __future__ import annotations

import sys
from typing import Any

import click


class _KeyProgress:
    """Progress of a long key operation on stderr: a bar on a terminal, otherwise one line per
    10 % (``re-wrapped 500/5000 data keys (10%)``) so a piped or CI run shows it too."""

    def __init__(self, verb: str, noun: str) -> None:
        self.verb = verb
        self.noun = noun
        self.tty = sys.stderr.isatty()
        self.bar: Any = None
        self.next_percent = 10

    def __call__(self, done: int, total: int) -> None:
        if total <= 0:
            return
        if self.tty:
            if self.bar is None:
                self.bar = click.progressbar(length=total, label=f"{self.verb} {self.noun}", file=sys.stderr)
                self.bar.__enter__()
            self.bar.update(min(done, self.bar.length) - self.bar.pos)
            return
        percent = 100 * done // total
        if percent >= self.next_percent or done >= total:
            click.echo(f"{self.verb} {done:,}/{total:,} {self.noun} ({percent}%)", err=True)
            sys.stderr.flush()
            self.next_percent = (percent // 10 + 1) * 10

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def _run_with_progress(verb: str, noun: str, call: Any) -> Any:
    progress = _KeyProgress(verb, noun)
    try:
        return call(progress)
    finally:
        progress.close()


class _SweepProgress:
    """A sweep's progress on stderr: a spinner-style bar per step on a terminal, otherwise a line
    per step every few seconds, so a piped or scheduled run shows it too."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.step = ""
        self.last = 0.0

    def __call__(self, step: str, entry: dict[str, Any]) -> None:
        import time

        counts = ", ".join(
            f"{name} {entry[name]:,}"
            for name in ("candidates", "deleted", "anonymised", "shredded", "held", "done")
            if entry.get(name)
        )
        line = f"{step}: {counts or 'nothing due so far'}"
        now = time.monotonic()
        if self.tty:
            if step != self.step and self.step:
                click.echo("", err=True)  # keep the finished step's last line
            click.echo("\r\033[K" + line[:200], err=True, nl=False)
        elif step != self.step or now - self.last >= 5:
            click.echo(line, err=True)
            self.last = now
        self.step = step

    def close(self) -> None:
        if self.tty and self.step:
            click.echo("", err=True)
