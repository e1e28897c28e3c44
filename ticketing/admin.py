"""Credentials on the command line, for whoever runs the engine's database (`TICKETING_DB`):

    python -m ticketing.admin create --operator site --role feed [--key-id site-feed-2]
    python -m ticketing.admin revoke site-feed-2
    python -m ticketing.admin list [--operator site]
    python -m ticketing.admin wallet --operator site --pam http://127.0.0.1:8100/pam --secret WALLET-SECRET
    python -m ticketing.admin wallet --operator site --internal

`create` prints the new secret once; it is never shown again (`list` shows key ids, roles and dates only). `wallet`
says where the operator's players' money is: its own PAM wallet (called at that URL, signed with that secret) or the
engine's accounts; running engines follow within 10 s (they keep an operator that long).
Exit 0 on success, 1 when refused (unknown operator, key id taken, nothing to revoke), 2 on a usage error.
"""

import argparse
import secrets
import sys
from datetime import UTC, datetime

from ticketing.access.credentials import (
    KEY_ID,
    Credential,
    add_credential,
    list_credentials,
    load_credential,
    new_secret,
    revoke_credential,
)
from ticketing.access.roles import Role
from ticketing.settings import Settings
from ticketing.storage import Store, database_url


def parser() -> argparse.ArgumentParser:
    commands = argparse.ArgumentParser(prog="python -m ticketing.admin", description="Manage credentials.")
    sub = commands.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create", help="issue a credential and print its secret once")
    create.add_argument("--operator", required=True)
    create.add_argument("--role", required=True, choices=[role.value for role in Role])
    create.add_argument("--key-id", help="default: OPERATOR-ROLE-random")
    revoke = sub.add_parser("revoke", help="stop a credential from working, from its next request on")
    revoke.add_argument("key_id")
    listing = sub.add_parser("list", help="key ids, operators, roles, created and revoked dates (never secrets)")
    listing.add_argument("--operator")
    wallet = sub.add_parser("wallet", help="where the operator's players' money is: its PAM wallet or the engine")
    wallet.add_argument("--operator", required=True)
    where = wallet.add_mutually_exclusive_group(required=True)
    where.add_argument("--pam", metavar="URL", help="the operator's PAM endpoint")
    where.add_argument("--internal", action="store_true", help="the engine's own accounts")
    wallet.add_argument("--secret", help="the PAM's signing secret (with --pam)")
    return commands


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    store = Store(database_url(Settings.from_env().database))
    try:
        store.create_schema()
        return run(store, args)
    finally:
        store.dispose()


def run(store: Store, args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    with store.write() as conn:
        if args.command == "create":
            key_id = args.key_id or f"{args.operator}-{args.role}-{secrets.token_hex(3)}"
            if not KEY_ID.fullmatch(key_id):
                print(f"key id {key_id!r}: letters, digits, '_', '.' and '-' only, at most 64", file=sys.stderr)
                return 2
            if store.load_operator(conn, args.operator) is None:
                print(f"operator {args.operator!r} was not found", file=sys.stderr)
                return 1
            if key_id == args.operator:
                # The operator's Betstack key is the till named after the operator: a key id of that name would be
                # the same till (its shift, and the right to cancel what that key sold).
                print(f"key id {key_id!r} is the operator's own till (its Betstack key): pick another", file=sys.stderr)
                return 2
            if load_credential(conn, key_id) is not None:
                print(f"key id {key_id!r} is taken (revoked key ids are never issued again)", file=sys.stderr)
                return 1
            secret = new_secret()
            role = Role(args.role)
            add_credential(
                conn, Credential(key_id=key_id, operator=args.operator, role=role, secret=secret, created=now)
            )
            print(f"key id: {key_id}\noperator: {args.operator}\nrole: {args.role}\nsecret: {secret}")
            print("The secret is shown this once: keep it where the till, feed or admin will read it.", file=sys.stderr)
        elif args.command == "wallet":
            operator = store.load_operator(conn, args.operator)
            if operator is None:
                print(f"operator {args.operator!r} was not found", file=sys.stderr)
                return 1
            if args.pam and not args.secret:
                print("--pam needs the wallet's --secret", file=sys.stderr)
                return 2
            if args.pam:
                wallet = {"wallet": "pam", "wallet_url": args.pam, "wallet_secret": args.secret}
                where = f"its PAM wallet at {args.pam}"
            else:
                wallet = {"wallet": "internal", "wallet_url": None, "wallet_secret": None}
                where = "the engine's accounts"
            store.save_operator(conn, operator.model_copy(update=wallet))
            print(f"{args.operator}: players' money in {where}")
        elif args.command == "revoke":
            if not revoke_credential(conn, args.key_id, now):
                print(f"no active credential {args.key_id!r}", file=sys.stderr)
                return 1
            print(f"revoked {args.key_id}")
        else:
            for credential in list_credentials(conn, args.operator):
                revoked = f"revoked {credential.revoked:%Y-%m-%dT%H:%M:%SZ}" if credential.revoked else "active"
                print(
                    f"{credential.key_id}\t{credential.operator}\t{credential.role.value}\t"
                    f"created {credential.created:%Y-%m-%dT%H:%M:%SZ}\t{revoked}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
