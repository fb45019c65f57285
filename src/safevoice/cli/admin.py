"""``safevoice admin``: install and maintain an instance (operator commands)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Annotated, Any

import typer

from safevoice import i18n
from safevoice.cli import backup as backups
from safevoice.cli.common import console, fail, make_app, print_json
from safevoice.cli.ops import operator_database
from safevoice.clock import utcnow
from safevoice.crypto.keys import PublicKey, format_fingerprint
from safevoice.errors import ConfigError
from safevoice.instance import service as instance
from safevoice.intake import service as intake
from safevoice.private_files import write_private_text
from safevoice.retention import policy as rules
from safevoice.retention import service as retention
from safevoice.storage import migrate

app = make_app("Install and maintain a SafeVoice instance (operator).")

app.command("backup")(backups.backup)
app.command("restore")(backups.restore)
app.command("backup-show")(backups.show)
app.add_typer(backups.keys_app, name="backup-keys")

Database = Annotated[
    str | None, typer.Option(help="Database URL (default: SAFEVOICE_DATABASE_URL).")
]


def load_config(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}.") from None


def channel_languages(settings_instance: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    """The instance's default language and every language its channels' texts are given in
    (``[instance] language = "de"``, ``languages = ["de", "en"]``); each must be shipped."""
    default = settings_instance.get("language", i18n.SOURCE)
    languages = settings_instance.get("languages", [default])
    if not isinstance(default, str) or not isinstance(languages, list):
        raise ConfigError(
            'In [instance], language is a language code ("de") and languages a list of them.'
        )
    shipped = i18n.languages()
    for lang in (default, *languages):
        if lang not in shipped:
            raise ConfigError(
                f"In [instance], the language {lang!r} is not one SafeVoice ships "
                f"({', '.join(shipped)})."
            )
    if default not in languages:
        raise ConfigError(
            f"In [instance], languages must include the default language {default!r}."
        )
    return default, tuple(dict.fromkeys(languages))


def initialise(database_url: str | None, config: dict[str, Any], instance_key_out: Path) -> str:
    """Migrate, create the instance keys, seed channels; write the instance public key."""
    settings_instance = config.get("instance", {})
    channels = config.get("channels", [])
    if not channels:
        raise ConfigError("The configuration defines no channel; add at least one [[channels]].")
    default, languages = channel_languages(settings_instance)
    db = operator_database(database_url)
    try:
        migrate.upgrade(db.writer)
        with db.unit_of_work() as session:
            instance.initialise(
                session,
                timezone=str(settings_instance.get("timezone", "UTC")),
                difficulty=int(settings_instance.get("difficulty", instance.DEFAULT_DIFFICULTY)),
            )
            before = retention.all_policies(session)
            intake.seed_channels(session, channels, default=default, languages=languages)
            retention.record_seeded_changes(
                session, before=before, today=instance.snapshot(session).today(utcnow())
            )
            instance.set_external_channels(session, config.get("external_channels", []))
            public = PublicKey(
                kind="instance",
                id="instance",
                name="SafeVoice instance",
                sign_key=instance.instance_public_key(session),
            )
    finally:
        db.dispose()
    write_private_text(instance_key_out, json.dumps(public.to_json(), indent=2) + "\n")
    return public.fingerprint


@app.command("init")
def init_command(
    config: Annotated[Path, typer.Option(help="Instance configuration (TOML).")],
    database: Database = None,
    instance_key_out: Annotated[
        Path, typer.Option(help="Where to write the instance public key for the committee.")
    ] = Path("keys/instance.pub.json"),
) -> None:
    """Create or upgrade the database, the instance keys and the channels."""
    if not config.is_file():
        fail(f"There is no configuration file {config}.")
    fingerprint = initialise(database, load_config(config), instance_key_out)
    console.print("The instance is ready.")
    console.print(f"  instance key: {instance_key_out} ({format_fingerprint(fingerprint)})")
    console.print(
        "  Give that file to the committee: the manifest must list it "
        "(`safevoice manifest sign --instance-key …`)."
    )


@app.command("migrate")
def migrate_command(database: Database = None) -> None:
    """Apply pending database migrations."""
    db = operator_database(database)
    try:
        migrate.upgrade(db.writer)
        revision = migrate.current_revision(db.writer)
    finally:
        db.dispose()
    console.print(f"The database is at revision {revision}.")


@app.command("channel")
def channel_command(
    name: Annotated[str, typer.Argument(help="The channel's name.")],
    days_after_closure: Annotated[
        int | None,
        typer.Option(
            help="New time a closed case is kept after its closure, in days.",
            min=1,
            max=rules.MAX_DAYS,
        ),
    ] = None,
    max_age_days: Annotated[
        int | None,
        typer.Option(help="New maximum age of any case, in days.", min=1, max=rules.MAX_DAYS),
    ] = None,
    unused_days: Annotated[
        int | None,
        typer.Option(
            help="New limit for cases never acknowledged, in days.", min=1, max=rules.MAX_DAYS
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    database: Database = None,
) -> None:
    """Show a channel's retention policy, or change it (the change is audited)."""
    db = operator_database(database)
    try:
        if days_after_closure is None and max_age_days is None and unused_days is None:
            with db.session(write=False) as session:
                policy = retention.show_policy(session, name=name)
            changed = False
        else:
            with db.unit_of_work() as session:
                before = retention.show_policy(session, name=name)
                policy = retention.set_policy(
                    session,
                    name=name,
                    days_after_closure=days_after_closure,
                    max_age_days=max_age_days,
                    unused_days=unused_days,
                    today=instance.snapshot(session).today(utcnow()),
                )
            changed = policy != before
    finally:
        db.dispose()
    if as_json:
        print_json(policy.model_dump())
        return
    if changed:
        console.print(f"The retention policy of channel {policy.channel} is changed.", markup=False)
    console.print(
        f"Channel {policy.channel}: closed cases are kept {policy.days_after_closure} days after "
        f"closure, any case at most {policy.max_age_days} days, cases never acknowledged "
        f"{policy.unused_days} days.",
        markup=False,
    )


@app.command("rotate-instance-key")
def rotate_instance_key_command(
    out: Annotated[
        Path, typer.Option(help="Where to write the new instance public key for the committee.")
    ] = Path("keys/instance-next.pub.json"),
    database: Database = None,
) -> None:
    """Prepare a new instance (audit) key; it takes over once the committee lists it.

    The server keeps signing receipts and checkpoints with the current key until a manifest
    made with `safevoice manifest rotate-audit-key` is published; checkpoints meanwhile stop
    before the seq the new key starts at. Running this again while a rotation is pending gives
    the same key and seq.
    """
    db = operator_database(database)
    try:
        with db.unit_of_work() as session:
            key, from_seq = instance.begin_key_rotation(session)
    finally:
        db.dispose()
    public = PublicKey(kind="instance", id="instance", name="SafeVoice instance", sign_key=key)
    write_private_text(out, json.dumps(public.to_json(), indent=2) + "\n")
    console.print(f"New instance key: {out} ({format_fingerprint(public.fingerprint)})")
    console.print(f"  it signs the audit log from seq {from_seq} on.")
    console.print(
        "  The committee lists it with `safevoice manifest rotate-audit-key --new-key "
        f"{out} --from-seq {from_seq} …`; then publish that manifest here."
    )
