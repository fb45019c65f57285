"""Keys and manifests for tests: a committee root, three members and an auditor.

Key files are sealed with libsodium's minimum Argon2id cost so that opening them in tests is
instant; everything else (manifest, codes) uses the real parameters.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

from safevoice.clock import utcnow
from safevoice.crypto.encoding import b64e
from safevoice.crypto.keys import KeyPair, generate, random_bytes, seal_keyfile
from safevoice.crypto.manifest import (
    AuditKey,
    CodeKdf,
    Manifest,
    SignedManifest,
    sign_manifest,
)

PASSPHRASE = "test passphrase"
MEMBER_IDS = ("alice", "bob", "carol")
CODE_KDF = CodeKdf(version=1, opslimit=2, memlimit=64 * 1024 * 1024)


def write_keyfile(directory: Path, keys: KeyPair) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{keys.public.id}.key"
    sealed = seal_keyfile(keys, PASSPHRASE, opslimit=1, memlimit=8192)
    path.write_text(json.dumps(sealed))
    (directory / f"{keys.public.id}.pub.json").write_text(json.dumps(keys.public.to_json()))
    return path


@dataclass
class World:
    key_dir: Path
    root: KeyPair
    members: dict[str, KeyPair]
    auditor: KeyPair
    instance_id: str = field(default_factory=lambda: b64e(random_bytes(16)))
    instance_salt: bytes = field(default_factory=lambda: random_bytes(16))

    @classmethod
    def create(cls, key_dir: Path) -> World:
        world = cls(
            key_dir=key_dir,
            root=generate("root", "root", "Committee root"),
            members={m: generate("member", m, m.title()) for m in MEMBER_IDS},
            auditor=generate("auditor", "audrey", "Audrey Auditor"),
        )
        for keys in (world.root, *world.members.values(), world.auditor):
            write_keyfile(key_dir, keys)
        return world

    @property
    def pin(self) -> str:
        return self.root.public.fingerprint

    def key_file(self, ident: str) -> Path:
        return self.key_dir / f"{ident}.key"

    def manifest(
        self,
        instance_key: bytes,
        *,
        version: int = 1,
        now: datetime | None = None,
        days: int = 60,
        members: tuple[str, ...] = MEMBER_IDS,
        roots: list[KeyPair] | None = None,
        **overrides: object,
    ) -> tuple[Manifest, SignedManifest]:
        now = (now or utcnow()).replace(microsecond=0)
        manifest = Manifest(
            instance_id=self.instance_id,
            version=version,
            issued_at=now,
            expires_at=now + timedelta(days=days),
            root=self.root.public.fingerprint,
            instance_salt=self.instance_salt,
            code_kdf=(CODE_KDF,),
            envelope_versions=(1,),
            members=tuple(self.members[m].public for m in members),
            auditors=(self.auditor.public,),
            audit_keys=(AuditKey(key=instance_key, from_seq=0),),
        )
        if overrides:
            manifest = replace(manifest, **overrides)  # type: ignore[arg-type]  # the changed fields come from a parametrised dict; the callee checks them at run time
        return manifest, sign_manifest(manifest, roots or [self.root])
