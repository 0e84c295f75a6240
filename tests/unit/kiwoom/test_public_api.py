"""``gslts_kiwoom.__all__`` lists exactly the public names the package exports."""

from __future__ import annotations

import types

import gslts_kiwoom


def test_all_matches_public_names() -> None:
    public = {
        name
        for name, value in vars(gslts_kiwoom).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)  # submodules are not re-exports
        and name != "annotations"
    }
    assert set(gslts_kiwoom.__all__) == public
    assert len(gslts_kiwoom.__all__) == len(set(gslts_kiwoom.__all__))


def test_rest_client_names_are_exported() -> None:
    for name in ("KiwoomClient", "Response", "KiwoomError", "APIError", "OrderType", "Quote"):
        assert name in gslts_kiwoom.__all__


def test_api_table_has_every_catalogued_api(shared_dir: object) -> None:
    import json
    from pathlib import Path

    assert isinstance(shared_dir, Path)
    catalogue = json.loads((shared_dir / "kiwoom-api" / "catalogue.json").read_text("utf-8"))
    table = gslts_kiwoom.api_table()
    assert len(table) == len(catalogue) == 207
    for api in catalogue:
        spec = table[api["api_id"]]
        assert (spec.path, spec.name) == (api["path"], api["name"])
    assert table["kt10003"].is_order
    assert not table["ka10001"].is_order
