"""Error classification, detail-code parsing and secret masking."""

from __future__ import annotations

import pytest

from gslts_kiwoom import (
    APIError,
    AuthError,
    BatchLimitError,
    InputError,
    KiwoomError,
    ModeMismatchError,
    NotSupportedError,
    OrderRejectedError,
    RateLimitError,
    mask_secrets,
    register_secret,
)
from gslts_kiwoom._errors import error_from_response, needs_reauth, parse_detail


@pytest.mark.parametrize(
    ("msg", "code", "text"),
    [
        (
            "입력 값 오류입니다[1511:필수입력 파라미터=cncl_qty]",
            "1511",
            "필수입력 파라미터=cncl_qty",
        ),
        (
            "인증에 실패했습니다[8005:Token이 유효하지 않습니다]",
            "8005",
            "Token이 유효하지 않습니다",
        ),
        (
            "[2000](855056:매수증거금이 부족합니다. 2주 매수가능)",
            "855056",
            "매수증거금이 부족합니다. 2주 매수가능",
        ),
        (
            "[2000](RC9000:모의투자에서는 해당업무가 제공되지 않습니다.)",
            "RC9000",
            "모의투자에서는 해당업무가 제공되지 않습니다.",
        ),
        (
            "토큰 인증에 실패했습니다 [CODE=8005, MESSAGE=Token이 유효하지 않습니다]",
            "8005",
            "Token이 유효하지 않습니다",
        ),
        (
            "허용된 요청 개수를 초과하였습니다"
            "[1700:허용된 요청 개수를 초과하였습니다. 유량=5, API ID=ka10080]",
            "1700",
            "허용된 요청 개수를 초과하였습니다. 유량=5, API ID=ka10080",
        ),
        ("정상적으로 처리되었습니다", None, "정상적으로 처리되었습니다"),
    ],
)
def test_parse_detail(msg: str, code: str | None, text: str) -> None:
    assert parse_detail(msg) == (code, text)


@pytest.mark.parametrize(
    ("status", "rc", "msg", "cls"),
    [
        (200, 3, "인증에 실패했습니다[8005:Token이 유효하지 않습니다]", AuthError),
        (
            200,
            2,
            "입력 값 오류입니다[8030:투자구분(실전/모의)이 달라서 Appkey를 사용할수가 없습니다]",
            ModeMismatchError,
        ),
        (
            429,
            5,
            "허용된 요청 개수를 초과하였습니다[1700:… 유량=5, API ID=ka10080]",
            RateLimitError,
        ),
        (200, 5, "허용된 요청 개수를 초과하였습니다[1634:…]", BatchLimitError),
        (200, 2, "입력 값 오류입니다[1511:필수입력 파라미터=cncl_qty]", InputError),
        (
            200,
            2,
            "입력 값 오류입니다[8104:모의투자에서 지원하지 않는 API 입니다.]",
            NotSupportedError,
        ),
        (200, 20, "[2000](855056:매수증거금이 부족합니다. 2주 매수가능)", OrderRejectedError),
        (200, 20, "[2000](RC9000:모의투자에서는 해당업무가 제공되지 않습니다.)", NotSupportedError),
        (200, 1, "오류", APIError),
    ],
)
def test_classification(status: int, rc: int, msg: str, cls: type[APIError]) -> None:
    err = error_from_response("kt10003", status, {"return_code": rc, "return_msg": msg})
    assert type(err) is cls
    assert err.return_code == rc
    assert err.api_id == "kt10003"


def test_order_rejection_exposes_backoffice_code_and_reason() -> None:
    err = error_from_response(
        "kt10000", 200, {"return_code": 20, "return_msg": "[2000](855056:매수증거금이 부족합니다.)"}
    )
    assert isinstance(err, OrderRejectedError)
    assert err.detail_code == "855056"
    assert err.reason == "매수증거금이 부족합니다."


def test_only_token_problems_trigger_reauth() -> None:
    def err(msg: str) -> APIError:
        return error_from_response("ka10001", 200, {"return_code": 3, "return_msg": msg})

    assert needs_reauth(err("인증에 실패했습니다[8005:Token이 유효하지 않습니다]"))
    assert needs_reauth(err("인증에 실패했습니다"))
    assert not needs_reauth(err("[8001:App Key와 Secret Key 검증에 실패했습니다]"))
    assert not needs_reauth(
        error_from_response("ka10001", 200, {"return_code": 2, "return_msg": "[1511:x]"})
    )


def test_registered_secrets_are_masked_in_messages() -> None:
    register_secret("PSsuperSecretAppKey123")
    err = KiwoomError("request with appkey=PSsuperSecretAppKey123 failed")
    assert "PSsuperSecretAppKey123" not in str(err)
    assert "***" in str(err)
    assert mask_secrets("x PSsuperSecretAppKey123 y") == "x *** y"
    api = error_from_response(
        "au10001", 200, {"return_code": 3, "return_msg": "bad key PSsuperSecretAppKey123"}
    )
    assert "PSsuperSecretAppKey123" not in str(api)
    assert "PSsuperSecretAppKey123" not in api.server_message
