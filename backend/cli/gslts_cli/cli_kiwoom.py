"""``gslts kiwoom <api-id> [json-body]``: call any Kiwoom REST API and print the response.

Talks to the configured mode (``KIWOOM_MODE``: the simulator by default). The access token
is cached in a 0600 file under ``DATA_DIR`` so repeated calls reuse it instead of issuing
a new one each time (a new token may invalidate the one other processes are using).

Examples::

    gslts kiwoom ka10001 '{"stk_cd":"005930"}'
    gslts kiwoom ka10099 '{"mrkt_tp":"0"}' --all-pages
    gslts kiwoom --list
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import orjson

from gslts_common.kiwoom_client import make_kiwoom_client
from gslts_common.settings import Settings
from gslts_kiwoom import (
    APIError,
    KiwoomClient,
    KiwoomError,
    RealOrdersDisabledError,
    TransportError,
    api_table,
)

EXIT_USAGE = 2
EXIT_FAILED = 1


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "kiwoom",
        help="call any Kiwoom REST API by api-id and print the JSON response",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("api_id", nargs="?", help="e.g. ka10001 (see --list)")
    p.add_argument("body", nargs="?", default="{}", help="request JSON object (default {})")
    p.add_argument("--all-pages", action="store_true", help="follow cont-yn/next-key")
    p.add_argument("--max-pages", type=int, default=None, help="with --all-pages: stop after N")
    p.add_argument("--next-key", default=None, help="fetch the page after this next-key")
    p.add_argument("--list", action="store_true", help="list every known api-id and exit")
    p.set_defaults(func=run)


def _out(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2) + "\n")


def _err(msg: str) -> None:
    sys.stderr.write(f"gslts kiwoom: {msg}\n")


def _list_apis() -> int:
    for spec in api_table().values():
        sys.stdout.write(f"{spec.api_id:<8} {spec.transport:<9} {spec.path:<22} {spec.name}\n")
    return 0


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.list:
        return _list_apis()
    if not args.api_id:
        _err("give an api-id (e.g. ka10001) or --list")
        return EXIT_USAGE
    spec = api_table().get(args.api_id)
    if spec is None:
        _err(f"unknown api-id {args.api_id!r} (gslts kiwoom --list shows all 207)")
        return EXIT_USAGE
    if spec.transport != "rest":
        _err(f"{spec.api_id} ({spec.name}) is a WebSocket message, not a REST call")
        return EXIT_USAGE
    try:
        body = orjson.loads(args.body)
    except orjson.JSONDecodeError as exc:
        _err(f"invalid JSON body: {exc}")
        return EXIT_USAGE
    if not isinstance(body, dict):
        _err('the JSON body must be an object, e.g. \'{"stk_cd":"005930"}\'')
        return EXIT_USAGE

    try:
        config = settings.kiwoom_config()
    except ValueError as exc:
        _err(str(exc))
        return EXIT_USAGE
    try:
        with make_kiwoom_client(settings) as client:
            return _call(client, spec.api_id, body, args)
    except RealOrdersDisabledError as exc:
        _err(str(exc))
        return EXIT_USAGE
    except TransportError as exc:
        hint = " — simulator not running? start it with `gslts sim`" if config.mode == "sim" else ""
        _err(f"cannot reach the Kiwoom {config.mode} server at {config.rest_url}: {exc}{hint}")
        return EXIT_FAILED
    except APIError as exc:
        _err(f"{type(exc).__name__}: {exc}")
        return EXIT_FAILED
    except KiwoomError as exc:
        _err(f"{type(exc).__name__}: {exc}")
        return EXIT_FAILED


def _call(client: KiwoomClient, api_id: str, body: dict[str, Any], args: argparse.Namespace) -> int:
    if api_id == "au10001":
        client.token()
        expires = client.token_expires_at()
        # The token itself stays out of the terminal; it is in the 0600 cache file.
        _out(
            {
                "return_code": 0,
                "token": "***",
                "expires_dt": expires.strftime("%Y%m%d%H%M%S") if expires else None,
            }
        )
        return 0
    if api_id == "au10002":
        client.revoke_token()
        _out({"return_code": 0, "return_msg": "revoked the cached token (if any)"})
        return 0
    if args.all_pages:
        pages = [p.data for p in client.iter_pages(api_id, body, max_pages=args.max_pages)]
        _out(pages)
        return 0
    resp = client.request(api_id, body, cont_key=args.next_key)
    _out(resp.data)
    if resp.has_next:
        sys.stderr.write(f"(more pages: --next-key {resp.next_key!s} or --all-pages)\n")
    return 0
