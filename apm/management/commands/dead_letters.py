"""List, show, replay or discard the ingest entries the workers set aside (apm/dead_letters.py).

    manage.py dead_letters list [--limit 50] [--after ID]
    manage.py dead_letters show ID
    manage.py dead_letters replay ID [ID ...] | --all
    manage.py dead_letters discard ID [ID ...]
"""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from apm import dead_letters
from contract.stream import decode_entry, key
from tenants.models import App, Organization

UTC = dt.timezone.utc


class Command(BaseCommand):
    help = "List, show, replay (back onto the ingest stream) or discard dead-lettered ingest entries."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser("list", help="the oldest dead letters: id, time, organisation, app, size, reason")
        listing.add_argument("--limit", type=int, default=50)
        listing.add_argument("--after", help="list those after this id (the last one of the previous page)")
        show = sub.add_parser("show", help="one dead letter decoded, with its reason")
        show.add_argument("id")
        replay = sub.add_parser("replay", help="queue dead letters again, removing each once it is queued")
        replay.add_argument("ids", nargs="*")
        replay.add_argument("--all", action="store_true", help="every dead letter waiting")
        discard = sub.add_parser("discard", help="delete dead letters for good")
        discard.add_argument("ids", nargs="+")

    def handle(self, *args, action, **options):
        getattr(self, f"_{action}")(**options)

    def _list(self, limit, after, **_):
        letters = dead_letters.oldest(limit, after)
        self.stdout.write(f"{dead_letters.waiting()} dead letters waiting")
        for letter in letters:
            org, app = _origin(letter)
            self.stdout.write(
                f"{letter.dead_id}  {letter.dead_at:%Y-%m-%d %H:%M:%S}  org {org}  app {app}  "
                f"{letter.size} bytes  {_one_line(letter.reason)}"
            )

    def _show(self, id, **_):
        letter = dead_letters.get(id)
        if letter is None:
            raise CommandError(f"no dead letter {id}")
        org, app = _origin(letter)
        lines = [
            f"dead letter   {letter.dead_id} (set aside {letter.dead_at:%Y-%m-%d %H:%M:%S} UTC)",
            f"reason        {letter.reason}",
            f"organisation  {org}",
            f"app           {app}",
        ]
        try:
            entry = letter.entry()
        except (KeyError, ValueError) as exc:
            lines.append(f"entry         not a queued payload ({exc!r}); fields: {sorted(letter.fields)}")
            self.stdout.write("\n".join(lines))
            return
        lines.append(f"received      {_time(entry.received_at)} UTC, {len(entry.body)} bytes queued")
        try:
            p = decode_entry(entry)
        except ValueError as exc:
            lines.append(f"payload       cannot be decoded: {exc!r}")
        else:
            minutes = sorted({m.minute for m in p.metrics})
            lines += [
                f"batch         {p.batch_id}, sent {_time(p.sent_at)} UTC",
                f"metrics       {len(p.metrics)} (minutes {', '.join(_time(m) for m in minutes) or '-'})",
                f"events        {len(p.events)}",
                f"traces        {len(p.traces)}",
                f"errors        {len(p.errors)}",
                f"instance      {f'{p.instance.host} pid {p.instance.pid}' if p.instance else '-'}",
            ]
        self.stdout.write("\n".join(lines))

    def _replay(self, ids, all, **_):
        if all == bool(ids):
            raise CommandError("give dead letter ids, or --all")
        if all:
            ids = [letter.dead_id for letter in _every()]
        for dead_id in ids:
            new_id = dead_letters.replay(dead_id)
            if new_id is None:
                self.stderr.write(f"no dead letter {dead_id}")
            else:
                self.stdout.write(f"{dead_id} queued again on {key()} as {new_id}")

    def _discard(self, ids, **_):
        for dead_id in ids:
            if dead_letters.discard(dead_id):
                self.stdout.write(f"{dead_id} discarded")
            else:
                self.stderr.write(f"no dead letter {dead_id}")


def _every():
    after = None
    while page := dead_letters.oldest(500, after):
        yield from page
        after = page[-1].dead_id


def _origin(letter):
    """(organisation, app) of a dead letter, as text: ids with the names still on record."""
    try:
        entry = letter.entry()
    except (KeyError, ValueError):
        return "?", "?"
    org = Organization.objects.filter(pk=entry.org_id).first()
    app = App.objects.unscoped().filter(pk=entry.app_id, organization_id=entry.org_id).first()
    return (f"{entry.org_id} ({org.slug})" if org else f"{entry.org_id} (deleted)",
            f"{entry.app_id} ({app.name})" if app else f"{entry.app_id} (deleted)")


def _time(seconds):
    return f"{dt.datetime.fromtimestamp(seconds, UTC):%Y-%m-%d %H:%M:%S}"


def _one_line(text, width=120):
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
