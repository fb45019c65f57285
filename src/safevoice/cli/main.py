"""``safevoice``: the committee's, auditors' and operator's command-line tool."""

from __future__ import annotations

from safevoice.cli import (
    actions,
    admin,
    audit,
    backup,
    cases,
    demo,
    desk,
    digest,
    keys,
    manifest,
    retention,
    serve,
    session,
    stats,
    surveys,
    web,
)
from safevoice.cli.common import make_app

app = make_app(
    "SafeVoice: anonymous whistleblower intake with end-to-end encryption.\n\n"
    "Committee members read and answer cases on their own machines; the server only ever "
    "holds ciphertext."
)
app.command("demo")(demo.demo)
app.command("serve")(serve.serve)
app.command("login")(session.login)
app.command("inbox")(cases.inbox)
app.command("stats")(stats.stats)
app.command("desk")(desk.desk)
app.add_typer(keys.app, name="keys")
app.add_typer(manifest.app, name="manifest")
app.add_typer(admin.app, name="admin")
app.add_typer(web.app, name="web")
app.add_typer(cases.app, name="cases")
app.add_typer(actions.app, name="actions")
app.add_typer(retention.app, name="retention")
app.add_typer(surveys.app, name="surveys")
app.add_typer(digest.app, name="digest")
audit.app.command("retention")(retention.audit_retention)
audit.app.command("approve-restore")(backup.approve_restore)
app.add_typer(audit.app, name="audit")


def main() -> None:
    app()
